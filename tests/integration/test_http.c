/*
 * test_http.c — the HTTP interface (SPEC §5) through real clients: curl on
 * the Unix socket and on TCP (keep-alive, chunked upload), Python's
 * http.client reading pipelined responses, the official OpenAI SDK's
 * moderations.create, promtool on /metrics; and raw sockets for every kind
 * of bad input, after which the daemon must still serve others.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

TestSuite(http, .init = fdt_setup, .fini = fdt_teardown);

/* Run curl with ARGS (-s added); its stdout (caller frees); asserts exit 0. */
static char *curl(const char *const *args)
{
    const char *argv[64] = {"-s", "--max-time", "10"};
    size_t n = 3;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int rc = fdt_run(CURL_BIN, argv, NULL, &out, &err);
    cr_assert_eq(rc, 0, "curl failed (%d): %s", rc, err);
    free(err);
    return out;
}

/* The port of the first --http listener, from the daemon's log. */
static char *base_url(void)
{
    cr_assert(fdt_wait_log(&fdt_d, "http: listening on http://", FDT_TIMEOUT_MS));
    pthread_mutex_lock(&fdt_d.mu);
    const char *p = strstr(fdt_d.log, "http: listening on ") + strlen("http: listening on ");
    size_t n = strcspn(p, " \n");
    char *url = strndup(p, n);
    pthread_mutex_unlock(&fdt_d.mu);
    return url;
}

static char *url_of(const char *base, const char *path)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s%s", base, path);
    return buf[k];
}

/* Write CONTENT to a file in the test's directory; returns its path. */
static char *temp_file(const char *name, const char *content)
{
    fdt_write_file(fdt_d.dir, name, content);
    char *p = malloc(strlen(fdt_d.dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", fdt_d.dir, name);
    return p;
}

/* Read one response on a raw connection: its status, and its body (the
 * JSON line after the headers; caller frees), NULL if the peer closed. */
static char *raw_response(fdt_conn *c, int *status)
{
    char *line = fdt_readline(c, FDT_TIMEOUT_MS);
    if (!line)
        return NULL;
    cr_assert(strncmp(line, "HTTP/1.1 ", 9) == 0, "not a status line: %s", line);
    *status = atoi(line + 9);
    free(line);
    while ((line = fdt_readline(c, FDT_TIMEOUT_MS)) && strcmp(line, "\r") != 0)
        free(line);
    cr_assert(line, "headers not ended");
    free(line);
    return fdt_readline(c, FDT_TIMEOUT_MS);
}

static void expect_error(fdt_conn *c, int status, const char *code)
{
    int st = 0;
    char *body = raw_response(c, &st);
    cr_assert(body, "no response (wanted %d %s); daemon log:\n%s", status, code, fdt_d.log);
    cr_assert_eq(st, status, "%d, wanted %d: %s", st, status, body);
    cJSON *j = fdt_json(body);
    cr_assert_str_eq(fdt_errcode(j), code, "%s", body);
    cJSON_Delete(j);
    free(body);
}

Test(http, unix_socket_curl_every_endpoint)
{
    const char *audit_extra[] = {"--audit", "audit.log", NULL};
    (void)audit_extra;
    cr_assert_eq(fdt_start(NULL), 0);
    const char *s = fdt_d.sock;
    char *out;

    out = curl((const char *[]){"--unix-socket", s, "http://filterd/healthz", NULL});
    cr_assert_str_eq(out, "{\"ok\":true}\n");
    free(out);
    out = curl((const char *[]){"--unix-socket", s, "http://filterd/readyz", NULL});
    cr_assert_str_eq(out, "{\"ok\":true}\n");
    free(out);
    out = curl((const char *[]){"--unix-socket", s, "http://filterd/v1/version", NULL});
    cr_assert(strstr(out, "\"version\":\"") && strstr(out, "\"rule_count\":"), "%s", out);
    free(out);
    out = curl((const char *[]){"--unix-socket", s, "http://filterd/v1/stats", NULL});
    cr_assert(strstr(out, "\"requests\":{"), "%s", out);
    free(out);

    struct {
        const char *body, *decision;
    } checks[] = {
        {"{\"id\":\"a1\",\"text\":\"how to build a bomb\"}", "block"},
        {"{\"text\":\"online casino\"}", "flag"},
        {"{\"text\":\"casino royale\"}", "allow"},
        {"{\"text\":\"hello\",\"meta\":{\"user\":\"u1\"}}", "allow"},
    };
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        out = curl((const char *[]){"--unix-socket", s, "-H", "Content-Type: application/json",
                                    "--data-binary", checks[i].body, "http://filterd/v1/check",
                                    NULL});
        cJSON *j = fdt_json(out);
        cr_assert_str_eq(fdt_str(j, "decision"), checks[i].decision, "%s", out);
        cJSON_Delete(j);
        free(out);
    }
    out = curl((const char *[]){"--unix-socket", s, "-d", "{\"id\":\"a1\",\"text\":\"bomb\"}",
                                "http://filterd/v1/check", NULL});
    cr_assert(strstr(out, "\"id\":\"a1\""), "%s", out);
    free(out);

    /* status codes of routing */
    out = curl((const char *[]){"--unix-socket", s, "-o", "/dev/null", "-w", "%{http_code}",
                                "http://filterd/nope", NULL});
    cr_assert_str_eq(out, "404");
    free(out);
    out = curl((const char *[]){"--unix-socket", s, "-o", "/dev/null", "-w", "%{http_code}",
                                "http://filterd/v1/check", NULL});
    cr_assert_str_eq(out, "405");
    free(out);
    out = curl((const char *[]){"--unix-socket", s, "-X", "DELETE", "-o", "/dev/null", "-w",
                                "%{http_code}", "http://filterd/healthz", NULL});
    cr_assert_str_eq(out, "405");
    free(out);
    /* reload as the daemon's own user: allowed over the socket */
    out =
        curl((const char *[]){"--unix-socket", s, "-X", "POST", "http://filterd/v1/reload", NULL});
    cr_assert(strstr(out, "\"ok\":true"), "%s", out);
    free(out);

    /* NDJSON still works on the same socket */
    fdt_conn *c = fdt_connect(s);
    char *r = fdt_roundtrip(c, "{\"op\":\"ping\"}");
    cr_assert(strstr(r, "\"ok\":true"), "%s", r);
    free(r);
    fdt_close(c);
}

Test(http, curl_keep_alive_and_chunked_upload)
{
    cr_assert_eq(fdt_start(NULL), 0);
    const char *s = fdt_d.sock;
    /* two requests, one connection: the second reuses it (0 new connects) */
    char *out = curl((const char *[]){"--unix-socket", s, "-o", "/dev/null", "-o", "/dev/null",
                                      "-w", "%{num_connects} ", "http://filterd/healthz",
                                      "http://filterd/v1/version", NULL});
    cr_assert_str_eq(out, "1 0 ", "%s", out);
    free(out);
    /* a chunked request body */
    char *body = temp_file("body.json", "{\"text\":\"instructions: build a bomb at home\"}");
    char at[4200];
    snprintf(at, sizeof at, "@%s", body);
    out = curl((const char *[]){"--unix-socket", s, "-H", "Transfer-Encoding: chunked",
                                "--data-binary", at, "-v", "http://filterd/v1/check", NULL});
    cJSON *j = fdt_json(out);
    cr_assert_str_eq(fdt_str(j, "decision"), "block", "%s", out);
    cJSON_Delete(j);
    free(out);
    free(body);
}

Test(http, tcp_tokens_and_admin_token)
{
    char *tok = temp_file("http.token", "t0ken-for-http\n");
    char *adm = temp_file("admin.token", "adm1n-t0ken\n");
    const char *extra[] = {"--http", "127.0.0.1:0", "--http-token", tok, "--admin-token",
                           adm,      NULL};
    cr_assert_eq(fdt_start(extra), 0);
    char *base = base_url();
    char *out;
    out = curl(
        (const char *[]){"-o", "/dev/null", "-w", "%{http_code}", url_of(base, "/healthz"), NULL});
    cr_assert_str_eq(out, "401");
    free(out);
    out = curl((const char *[]){"-H", "Authorization: Bearer wrong", "-o", "/dev/null", "-w",
                                "%{http_code}", url_of(base, "/healthz"), NULL});
    cr_assert_str_eq(out, "401");
    free(out);
    const char *hdrs[] = {"Authorization: Bearer t0ken-for-http", "api-key: t0ken-for-http",
                          "Ocp-Apim-Subscription-Key: t0ken-for-http"};
    for (int i = 0; i < 3; i++) {
        out = curl((const char *[]){"-H", hdrs[i], "-d", "{\"text\":\"a bomb\"}",
                                    url_of(base, "/v1/check"), NULL});
        cJSON *j = fdt_json(out);
        cr_assert_str_eq(fdt_str(j, "decision"), "block", "%s: %s", hdrs[i], out);
        cJSON_Delete(j);
        free(out);
    }
    /* reload over TCP: the http token is not enough, the admin token is */
    out = curl((const char *[]){"-H", hdrs[0], "-X", "POST", "-o", "/dev/null", "-w",
                                "%{http_code}", url_of(base, "/v1/reload"), NULL});
    cr_assert_str_eq(out, "403");
    free(out);
    out = curl((const char *[]){"-H", "Authorization: Bearer adm1n-t0ken", "-X", "POST",
                                url_of(base, "/v1/reload"), NULL});
    cr_assert(strstr(out, "\"ok\":true"), "%s", out);
    free(out);
    free(base);
    free(tok);
    free(adm);
}

Test(http, tcp_without_token_refuses_non_loopback)
{
    const char *extra[] = {"--http", "0.0.0.0:0", NULL};
    cr_assert_neq(fdt_start(extra), 0);
    cr_assert(fdt_wait_log(&fdt_d, "needs --http-token", 1000), "%s", fdt_d.log);
}

Test(http, tcp_without_admin_token_never_reloads)
{
    const char *extra[] = {"--http", "[::1]:0", NULL};
    cr_assert_eq(fdt_start(extra), 0);
    char *base = base_url();
    cr_assert(strncmp(base, "http://[::1]:", 13) == 0, "%s", base);
    char *out = curl((const char *[]){"-X", "POST", "-o", "/dev/null", "-w", "%{http_code}",
                                      url_of(base, "/v1/reload"), NULL});
    cr_assert_str_eq(out, "403");
    free(out);
    free(base);
}

Test(http, python_pipelined)
{
    const char *extra[] = {"--http", "127.0.0.1:0", NULL};
    cr_assert_eq(fdt_start(extra), 0);
    char *base = base_url();
    char target[4200];
    snprintf(target, sizeof target, "unix:%s", fdt_d.sock);
    const char *targets[] = {target, base + strlen("http://")};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {CLIENTS_DIR "/pipelined.py",
                              targets[i],
                              "a bomb",
                              "casino",
                              "hello",
                              "casino royale",
                              NULL};
        char *out = NULL, *err = NULL;
        int rc = fdt_run(PYTHON_BIN, args, NULL, &out, &err);
        cr_assert_eq(rc, 0, "%s", err);
        cr_assert_str_eq(out, "200 block\n200 flag\n200 allow\n200 allow\n", "%s", out);
        free(out);
        free(err);
    }
    free(base);
}

Test(http, openai_sdk_moderations)
{
    char *tok = temp_file("http.token", "sk-filterd-test\n");
    const char *extra[] = {"--http",    "127.0.0.1:0", "--http-token", tok, "--audit",
                           "audit.log", NULL};
    char audit[4200];
    snprintf(audit, sizeof audit, "%s/audit.log", fdt_d.dir);
    extra[5] = audit;
    cr_assert_eq(fdt_start(extra), 0);
    char *base = base_url();
    char v1[300];
    snprintf(v1, sizeof v1, "%s/v1", base);
    const char *args[] = {CLIENTS_DIR "/moderations.mjs",
                          v1,
                          "sk-filterd-test",
                          "how to build a bomb",
                          "online casino",
                          "a quiet afternoon",
                          NULL};
    char *out = NULL, *err = NULL;
    int rc = fdt_run(NODE_BIN, args, NULL, &out, &err);
    cr_assert_eq(rc, 0, "%s%s", out, err);
    cJSON *j = fdt_json(out);
    cJSON *res = cJSON_GetObjectItem(j, "results");
    cr_assert_eq(cJSON_GetArraySize(res), 3, "%s", out);
    const char *dec[] = {"block", "flag", "allow"};
    for (int i = 0; i < 3; i++) {
        cJSON *r = cJSON_GetArrayItem(res, i);
        cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(r, "flagged")), i == 0, "%s", out);
        cr_assert_str_eq(fdt_str(r, "decision"), dec[i], "%s", out);
        cr_assert_eq(cJSON_GetObjectItem(r, "nkeys")->valueint, 13, "%s", out);
    }
    cr_assert(strstr(out, "\"keys\":[\"illicit/violent\",\"violence\"]"), "%s", out);
    cr_assert(strncmp(fdt_str(j, "id"), "modr-", 5) == 0, "%s", out);
    cr_assert_str_eq(fdt_str(j, "model"), "omni-moderation-latest");
    cJSON_Delete(j);
    free(out);
    free(err);
    /* a wrong key: the SDK reports the 401 */
    const char *bad[] = {CLIENTS_DIR "/moderations.mjs", v1, "sk-wrong", "x", NULL};
    rc = fdt_run(NODE_BIN, bad, NULL, &out, &err);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "401"), "%s", err);
    free(out);
    free(err);
    /* audited with api "openai" and the TCP peer's address */
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    FILE *f = fopen(audit, "r");
    cr_assert(f);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        cr_assert(strstr(line, "\"api\":\"openai\""), "%s", line);
        cr_assert(strstr(line, "\"peer\":{\"addr\":\"127.0.0.1:"), "%s", line);
        n++;
    }
    fclose(f);
    cr_assert_eq(n, 2, "block and flag recorded (--audit-level flag)");
    free(base);
    free(tok);
}

/* The value of the sample NAME (a whole line prefix) in METRICS, or -1. */
static long long sample(const char *metrics, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = metrics; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return atoll(p + n + 1);
    return -1;
}

Test(http, promtool_accepts_metrics_and_counters_move)
{
    cr_assert_eq(fdt_start(NULL), 0);
    const char *s = fdt_d.sock;
    char *m1 = curl((const char *[]){"--unix-socket", s, "http://filterd/metrics", NULL});
    char *path = temp_file("metrics.txt", m1);
    char *err = NULL, *out = NULL;
    const char *args[] = {"check", "metrics", NULL};
    int rc = fdt_run(PROMTOOL_BIN, args, m1, &out, &err);
    cr_assert_eq(rc, 0, "promtool: %s%s", out, err);
    free(out);
    free(err);
    const char *checks = "filterd_requests_total{api=\"http\",op=\"check\"}";
    cr_assert_eq(sample(m1, checks), 0, "%s", m1);
    cr_assert_eq(sample(m1, "filterd_decisions_total{decision=\"block\"}"), 0);
    char *o = curl((const char *[]){"--unix-socket", s, "-d", "{\"text\":\"a bomb\"}",
                                    "http://filterd/v1/check", NULL});
    free(o);
    fdt_conn *c = fdt_connect(s);
    free(fdt_roundtrip(c, "{\"text\":\"casino\"}"));
    fdt_close(c);
    char *m2 = curl((const char *[]){"--unix-socket", s, "http://filterd/metrics", NULL});
    cr_assert_eq(sample(m2, checks), 1, "%s", m2);
    cr_assert_eq(sample(m2, "filterd_requests_total{api=\"ndjson\",op=\"check\"}"), 1);
    cr_assert_eq(sample(m2, "filterd_decisions_total{decision=\"block\"}"), 1);
    cr_assert_eq(sample(m2, "filterd_decisions_total{decision=\"flag\"}"), 1);
    cr_assert_eq(sample(m2, "filterd_matches_total{category=\"A1.4\",action=\"block\"}"), 1);
    cr_assert_eq(sample(m2, "filterd_matches_total{category=\"A1.8\",action=\"flag\"}"), 1);
    cr_assert_eq(sample(m2, "filterd_request_duration_seconds_count"), 2);
    cr_assert_eq(sample(m2, "filterd_request_duration_seconds_bucket{le=\"+Inf\"}"), 2);
    cr_assert_gt(sample(m2, "filterd_bytes_scanned_total"), 0);
    cr_assert_eq(sample(m2, "filterd_rules"), 4);
    rc = fdt_run(PROMTOOL_BIN, args, m2, &out, &err);
    cr_assert_eq(rc, 0, "promtool: %s%s", out, err);
    free(out);
    free(err);
    free(m1);
    free(m2);
    free(path);
}

Test(http, bad_input_gets_its_status_and_others_are_served)
{
    const char *extra[] = {"--max-request", "2000", NULL};
    cr_assert_eq(fdt_start(extra), 0);
    const char *s = fdt_d.sock;
    fdt_conn *c;

    /* malformed request line and header: 400, then the connection closes */
    const char *malformed[] = {"GET /healthz HTTP/9\r\n\r\n",
                               "GET /healthz HTTP/1.1\r\nbad\r\n\r\n", "Hello there\r\n\r\n"};
    for (int i = 0; i < 3; i++) {
        c = fdt_connect(s);
        fdt_sends(c, malformed[i]);
        expect_error(c, 400, "bad_request");
        cr_assert(fdt_wait_eof(c, FDT_TIMEOUT_MS));
        fdt_close(c);
    }
    /* headers over 16 KiB: 431 */
    c = fdt_connect(s);
    char *big = malloc(20000);
    int n = sprintf(big, "GET /healthz HTTP/1.1\r\nX-Big: ");
    memset(big + n, 'x', 17000);
    strcpy(big + n + 17000, "\r\n\r\n");
    fdt_sends(c, big);
    expect_error(c, 431, "too_large");
    fdt_close(c);
    /* a body over --max-request: 413 as soon as Content-Length says so */
    c = fdt_connect(s);
    fdt_sends(c, "POST /v1/check HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    expect_error(c, 413, "too_large");
    fdt_close(c);
    /* and chunked, when the chunks exceed it */
    c = fdt_connect(s);
    n = sprintf(big, "POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", 3000);
    memset(big + n, 'a', 3000);
    strcpy(big + n + 3000, "\r\n0\r\n\r\n");
    fdt_sends(c, big);
    expect_error(c, 413, "too_large");
    fdt_close(c);
    free(big);

    /* bodies: each gets its 400 and the connection stays usable */
    c = fdt_connect(s);
    struct {
        const char *body, *code;
    } bodies[] = {
        {"{\"text\":", "bad_json"},
        {"[1,2]", "bad_request"},
        {"{\"txt\":\"x\"}", "bad_request"},
        {"{\"text\":\"\xc3\x28\"}", "bad_utf8"},
        {"{\"text\":\"a\\u0000b\"}", "bad_request"},
        {"{\"text\":\"x\",\"id\":1.5}", "bad_request"},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        char req[512];
        snprintf(req, sizeof req, "POST /v1/check HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(bodies[i].body), bodies[i].body);
        fdt_sends(c, req);
        expect_error(c, 400, bodies[i].code);
    }
    fdt_sends(c, "POST /v1/moderations HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"input\":[]}");
    expect_error(c, 400, "bad_request");
    fdt_sends(c, "PUT /v1/check HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    expect_error(c, 405, "method_not_allowed");
    fdt_sends(c, "GET /v2/nothing HTTP/1.1\r\n\r\n");
    expect_error(c, 404, "not_found");
    fdt_close(c);

    /* a body shorter than its Content-Length, then the client hangs up:
     * no answer, a clean close */
    c = fdt_connect(s);
    fdt_sends(c, "POST /v1/check HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"text\":");
    shutdown(c->fd, SHUT_WR);
    cr_assert(fdt_wait_eof(c, FDT_TIMEOUT_MS));
    fdt_close(c);
    /* a client that vanishes mid-body */
    c = fdt_connect(s);
    fdt_sends(c, "POST /v1/check HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"te");
    fdt_close(c);

    /* the daemon serves others all along */
    char *out = curl((const char *[]){"--unix-socket", s, "http://filterd/healthz", NULL});
    cr_assert_str_eq(out, "{\"ok\":true}\n");
    free(out);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
}

Test(http, slow_clients_are_closed)
{
    const char *extra[] = {"--idle-timeout", "1", NULL};
    cr_assert_eq(fdt_start(extra), 0);
    /* headers that never end */
    fdt_conn *c = fdt_connect(fdt_d.sock);
    fdt_sends(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    cr_assert(fdt_wait_eof(c, FDT_TIMEOUT_MS));
    fdt_close(c);
    /* a body trickling in, a byte per 300 ms: active, but never complete
     * within the timeout of its first byte */
    c = fdt_connect(fdt_d.sock);
    fdt_sends(c, "POST /v1/check HTTP/1.1\r\nContent-Length: 60\r\n\r\n");
    bool closed = false;
    for (int i = 0; i < 60 && !closed; i++) {
        if (fdt_sends(c, "x") != 0)
            closed = true;
        else
            closed = fdt_wait_eof(c, 300);
    }
    cr_assert(closed, "a trickling body kept its connection");
    fdt_close(c);
    char *out = curl((const char *[]){"--unix-socket", fdt_d.sock, "http://filterd/healthz", NULL});
    cr_assert_str_eq(out, "{\"ok\":true}\n");
    free(out);
}

Test(http, audit_failure_gives_503_in_order)
{
    char audit[4200];
    snprintf(audit, sizeof audit, "%s/audit.log", fdt_d.dir);
    const char *extra[] = {"--audit", audit, NULL};
    cr_assert_eq(fdt_start(extra), 0);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    const char *block =
        "POST /v1/check HTTP/1.1\r\nContent-Length: 17\r\n\r\n{\"text\":\"a bomb\"}";
    fdt_sends(c, block);
    int st = 0;
    char *body = raw_response(c, &st);
    cr_assert_eq(st, 200, "%s", body);
    cr_assert(strstr(body, "\"decision\":\"block\""), "%s", body);
    free(body);

    /* cap the audit file where it is: every later record fails */
    struct stat sb;
    cr_assert_eq(stat(audit, &sb), 0);
    struct rlimit rl = {(rlim_t)sb.st_size, RLIM_INFINITY};
    if (prlimit(fdt_d.pid, RLIMIT_FSIZE, &rl, NULL) != 0)
        cr_skip_test("prlimit(RLIMIT_FSIZE) is not possible here: %s", strerror(errno));

    /* pipelined: a decision that needs a record, one that does not (allow at
     * --audit-level flag), a health check, a moderation: answered in order,
     * no decision without its record */
    char burst[2048];
    snprintf(
        burst, sizeof burst,
        "%s"
        "POST /v1/check HTTP/1.1\r\nContent-Length: 16\r\n\r\n{\"text\":\"hello\"}"
        "GET /healthz HTTP/1.1\r\n\r\n"
        "POST /v1/moderations HTTP/1.1\r\nContent-Length: 24\r\n\r\n{\"input\":[\"x\",\"a bomb\"]}",
        block);
    fdt_sends(c, burst);
    expect_error(c, 503, "audit_failed");
    body = raw_response(c, &st);
    cr_assert_eq(st, 200);
    cr_assert(strstr(body, "\"decision\":\"allow\""), "%s", body);
    free(body);
    body = raw_response(c, &st);
    cr_assert_eq(st, 200);
    free(body);
    expect_error(c, 503, "audit_failed");

    /* /readyz says so; after the limit is lifted, decisions come back */
    fdt_sends(c, "GET /readyz HTTP/1.1\r\n\r\n");
    expect_error(c, 503, "busy");
    rl.rlim_cur = RLIM_INFINITY;
    cr_assert_eq(prlimit(fdt_d.pid, RLIMIT_FSIZE, &rl, NULL), 0);
    fdt_sends(c, block);
    body = raw_response(c, &st);
    cr_assert_eq(st, 200, "%s", body);
    cr_assert(strstr(body, "\"decision\":\"block\""), "%s", body);
    free(body);
    fdt_close(c);
}
