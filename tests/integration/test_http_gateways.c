/*
 * test_http_gateways.c — the gateway adapters (SPEC §6) against the real
 * daemon, through tests/clients/gateways.py: it sends exactly what each
 * gateway's plugin sends (LiteLLM's and Kong's Azure Content Safety calls,
 * LiteLLM's generic guardrail API, Portkey's webhook, APISIX's RPC
 * HMAC-SHA1 form and Higress's ACS3-HMAC-SHA256 request for Aliyun
 * TextModerationPlus) and applies that gateway's own decision rule. A
 * blocked text must block, a flagged and an allowed one must pass; Aliyun
 * sessions join pieces across requests and connections; every call is
 * audited with its adapter's api.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

TestSuite(gateways, .init = fdt_setup, .fini = fdt_teardown);

static char audit_path[4200];

/* Start the daemon with a TCP listener, the token "gw-token", an audit log
 * and EXTRA (up to 4 more arguments, NULL-terminated or NULL). */
static void start(const char *const *extra)
{
    fdt_write_file(fdt_d.dir, "http.token", "gw-token\n");
    static char tok[4200];
    snprintf(tok, sizeof tok, "%s/http.token", fdt_d.dir);
    snprintf(audit_path, sizeof audit_path, "%s/audit.log", fdt_d.dir);
    const char *args[16] = {"--http",   "127.0.0.1:0", "--http-token", tok, "--audit",
                            audit_path, NULL};
    size_t n = 6;
    for (size_t i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    cr_assert_eq(fdt_start(args), 0);
}

/* HOST:PORT of the first --http listener. */
static const char *target(void)
{
    static char t[128];
    cr_assert(fdt_wait_log(&fdt_d, "http: listening on http://", FDT_TIMEOUT_MS));
    pthread_mutex_lock(&fdt_d.mu);
    const char *p = strstr(fdt_d.log, "http: listening on http://") + 26;
    size_t n = strcspn(p, " \n/");
    snprintf(t, sizeof t, "%.*s", (int)n, p);
    pthread_mutex_unlock(&fdt_d.mu);
    return t;
}

/* Run gateways.py GATEWAY with ARGS (NULL-terminated); its stdout. */
static char *gw(const char *gateway, const char *const *args)
{
    const char *argv[32] = {CLIENTS_DIR "/gateways.py", target(), gateway};
    size_t n = 3;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int rc = fdt_run(PYTHON_BIN, argv, NULL, &out, &err);
    cr_assert_eq(rc, 0, "gateways.py %s failed: %s%s", gateway, out, err);
    free(err);
    return out;
}

/* Whether line I (from 0) of OUT starts with PREFIX. */
static int line_is(const char *out, int i, const char *prefix)
{
    const char *p = out;
    while (i-- > 0 && p)
        p = (p = strchr(p, '\n')) ? p + 1 : NULL;
    return p && strncmp(p, prefix, strlen(prefix)) == 0;
}

/* Number of audit records with API that contain NEEDLE (NULL: any). */
static int audited(const char *api, const char *needle)
{
    FILE *f = fopen(audit_path, "r");
    cr_assert(f, "no audit log");
    char line[16384], want[64];
    snprintf(want, sizeof want, "\"api\":\"%s\"", api);
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, want) && (!needle || strstr(line, needle)))
            n++;
    fclose(f);
    return n;
}

static const char *const three[] = {"--token",       "gw-token",          "how to build a bomb",
                                    "online casino", "a quiet afternoon", NULL};

Test(gateways, azure_litellm_and_kong)
{
    start(NULL);
    char *out = gw("litellm-azure", three);
    cr_assert(line_is(out, 0, "BLOCK Hate=6,SelfHarm=6,Sexual=6,Violence=6"), "%s", out);
    cr_assert(line_is(out, 1, "PASS Hate=0,SelfHarm=0,Sexual=0,Violence=0"), "%s", out);
    cr_assert(line_is(out, 2, "PASS"), "%s", out);
    free(out);
    out = gw("kong-azure", three);
    cr_assert(line_is(out, 0, "BLOCK breached Hate,Violence"), "%s", out);
    cr_assert(line_is(out, 1, "PASS ok"), "%s", out);
    cr_assert(line_is(out, 2, "PASS ok"), "%s", out);
    free(out);
    /* the key is the --http-token: a wrong one is an error for both */
    const char *bad[] = {"--token", "wrong", "hello", NULL};
    out = gw("litellm-azure", bad);
    cr_assert(line_is(out, 0, "ERROR 401"), "%s", out);
    free(out);
    out = gw("kong-azure", bad);
    cr_assert(line_is(out, 0, "ERROR 401"), "%s", out);
    free(out);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    /* block and flag recorded (--audit-level flag), the block with its rule */
    cr_assert_eq(audited("azure", NULL), 4);
    cr_assert_eq(audited("azure", "\"decision\":\"block\",\"matches\":[{\"rule\":\"bomb\""), 2);
}

Test(gateways, litellm_generic_guardrail_api)
{
    start(NULL);
    const char *blocked[] = {"--token", "gw-token", "hello", "how to build a bomb", NULL};
    char *out = gw("litellm-generic", blocked);
    cr_assert(line_is(out, 0,
                      "BLOCK blocked by filterd: rule bomb (A1.4 Promoting terrorism or "
                      "extremism): \"bomb\""),
              "%s", out);
    free(out);
    const char *passed[] = {"--token", "gw-token", "online casino", "a quiet afternoon", NULL};
    out = gw("litellm-generic", passed);
    cr_assert(line_is(out, 0, "PASS NONE"), "%s", out);
    free(out);
    const char *bad[] = {"--token", "wrong", "hello", NULL};
    out = gw("litellm-generic", bad);
    cr_assert(line_is(out, 0, "ERROR 401"), "%s", out);
    free(out);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    /* audited per text, with LiteLLM's call id as the record's id */
    cr_assert_eq(audited("litellm", "\"decision\":\"block\""), 1);
    cr_assert_eq(audited("litellm", "\"decision\":\"flag\""), 1);
    cr_assert_eq(audited("litellm", "\"id\":null"), 0);
}

Test(gateways, portkey_webhook)
{
    start(NULL);
    char *out = gw("portkey", three);
    cr_assert(line_is(out, 0, "BLOCK verdict=false"), "%s", out);
    cr_assert(line_is(out, 1, "PASS verdict=true"), "%s", out);
    cr_assert(line_is(out, 2, "PASS verdict=true"), "%s", out);
    free(out);
    /* afterRequestHook: the response's text is checked */
    const char *after[] = {"--token", "gw-token", "--after", "a bomb", "a quiet afternoon", NULL};
    out = gw("portkey", after);
    cr_assert(line_is(out, 0, "BLOCK verdict=false"), "%s", out);
    cr_assert(line_is(out, 1, "PASS verdict=true"), "%s", out);
    free(out);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    cr_assert_eq(audited("portkey", "\"meta\":{\"hook\":\"beforeRequestHook\"}"), 2);
    cr_assert_eq(audited("portkey", "\"meta\":{\"hook\":\"afterRequestHook\"}"), 1);
}

/* Each text in a session of its own, as separate gateway requests. */
static void aliyun_three(const char *gateway)
{
    const char *texts[] = {"how to build a bomb", "online casino", "a quiet afternoon"};
    const char *want[] = {"BLOCK high A1.4 bomb", "PASS low", "PASS none"};
    for (int i = 0; i < 3; i++) {
        /* the AccessKeyId stands for the token (no bearer header possible) */
        const char *args[] = {"--token", "gw-token", texts[i], NULL};
        char *out = gw(gateway, args);
        cr_assert(line_is(out, 0, want[i]), "%s: %s", gateway, out);
        free(out);
    }
    const char *bad[] = {"--token", "wrong", "hello", NULL};
    char *out = gw(gateway, bad);
    cr_assert(line_is(out, 0, "ERROR 401"), "%s: %s", gateway, out);
    free(out);
}

Test(gateways, aliyun_apisix_and_higress)
{
    start(NULL);
    aliyun_three("apisix");
    aliyun_three("higress");
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    cr_assert_eq(audited("aliyun", "\"decision\":\"block\""), 2);
    cr_assert_eq(audited("aliyun", "\"decision\":\"flag\""), 2);
    cr_assert_eq(audited("aliyun", "\"service\":\"llm_response_moderation\",\"sessionId\":"), 4);
}

Test(gateways, aliyun_sessions_join_pieces)
{
    start(NULL);
    /* a keyword split across two pieces (each on a new connection, over
     * two worker threads) is found with the second; after the block every
     * later piece is high */
    const char *split[] = {"--token",           "gw-token",     "--session",           "s-split",
                           "how to build a bo", "mb right now", "the weather is nice", NULL};
    char *out = gw("higress", split);
    cr_assert(line_is(out, 0, "PASS none"), "%s", out);
    cr_assert(line_is(out, 1, "BLOCK high A1.4 bomb"), "%s", out);
    cr_assert(line_is(out, 2, "BLOCK high session_blocked"), "%s", out);
    free(out);
    /* a multi-byte keyword, split between characters, over APISIX's form */
    const char *zh[] = {"--token",          "gw-token", "--session", "s-zh",
                        "请告诉我如何制造", "炸弹",     NULL};
    out = gw("apisix", zh);
    cr_assert(line_is(out, 0, "PASS none"), "%s", out);
    cr_assert(line_is(out, 1, "BLOCK high A1.4 制造炸弹"), "%s", out);
    free(out);
    /* pieces of different sessions never combine, even interleaved */
    const char *a1[] = {"--token", "gw-token", "--session", "s-a", "a bo", NULL};
    const char *b1[] = {"--token", "gw-token", "--session", "s-b", "mb", NULL};
    const char *a2[] = {"--token", "gw-token", "--session", "s-a", "mbastic speech", NULL};
    out = gw("apisix", a1);
    cr_assert(line_is(out, 0, "PASS none"), "%s", out);
    free(out);
    out = gw("higress", b1);
    cr_assert(line_is(out, 0, "PASS none"), "%s", out);
    free(out);
    /* "bo" + "mbastic": the rule is a normalized literal, found inside words */
    out = gw("higress", a2);
    cr_assert(line_is(out, 0, "BLOCK high A1.4 bomb"), "%s", out);
    free(out);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    /* the split match is recorded with the piece it ends in, whole */
    cr_assert_eq(audited("aliyun", "\"excerpt\":\"bomb\""), 2);
    cr_assert_eq(audited("aliyun", "\"excerpt\":\"制造炸弹\""), 1);
}

Test(gateways, aliyun_sessions_time_out)
{
    const char *extra[] = {"--idle-timeout", "1", NULL};
    start(extra);
    const char *p1[] = {"--token", "gw-token", "--session", "s-t", "how to build a bo", NULL};
    const char *p2[] = {"--token", "gw-token", "--session", "s-t", "mb right now", NULL};
    char *out = gw("apisix", p1);
    cr_assert(line_is(out, 0, "PASS none"), "%s", out);
    free(out);
    /* Not a synchronisation: the passing of --idle-timeout is what is
     * tested. Past it the session is gone, so the halves never meet. */
    struct timespec ts = {1, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    out = gw("apisix", p2);
    cr_assert(line_is(out, 0, "PASS none"), "%s", out);
    free(out);
}

/* A raw request on the Unix socket: the status and the body line. */
static char *raw(const char *request, int *status)
{
    fdt_conn *c = fdt_connect(fdt_d.sock);
    cr_assert_eq(fdt_sends(c, request), 0);
    char *line = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert(line && strncmp(line, "HTTP/1.1 ", 9) == 0, "%s", line ? line : "(none)");
    *status = atoi(line + 9);
    free(line);
    while ((line = fdt_readline(c, FDT_TIMEOUT_MS)) && strcmp(line, "\r") != 0)
        free(line);
    free(line);
    char *body = fdt_readline(c, FDT_TIMEOUT_MS);
    fdt_close(c);
    return body;
}

static void expect(const char *path, const char *ctype, const char *body, int status,
                   const char *needle)
{
    char req[4096];
    snprintf(req, sizeof req,
             "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             path, ctype, strlen(body), body);
    int st = 0;
    char *resp = raw(req, &st);
    cr_assert(resp, "no body for %s %s", path, body);
    cr_assert_eq(st, status, "%s %s: %d %s", path, body, st, resp);
    cr_assert(strstr(resp, needle), "%s %s: %s", path, body, resp);
    free(resp);
}

Test(gateways, bad_requests_get_clear_errors)
{
    start(NULL);
    const char *form = "application/x-www-form-urlencoded", *js = "application/json";
    expect("/", form, "ServiceParameters=%7B%22content%22%3A%22a%25", 400, "bad_request");
    expect("/", form, "Service=x", 400, "needs ServiceParameters");
    expect("/", form, "ServiceParameters=%ZZ", 400, "malformed");
    expect("/", form, "ServiceParameters=%7B%7D", 400, "needs \\\"content\\\"");
    expect("/", form, "ServiceParameters=%FF", 400, "UTF-8");
    expect("/", form, "ServiceParameters=%7B%22content%22%3A%22x%22%2C%22sessionId%22%3A5%7D", 400,
           "sessionId");
    /* the query string works as well as the body */
    expect("/?Service=x&ServiceParameters=%7B%22content%22%3A%22a+bomb%22%7D", form, "", 200,
           "\"RiskLevel\":\"high\"");
    expect("/contentsafety/text:analyze?api-version=2024-09-01", js, "{\"text\":1}", 400,
           "needs \\\"text\\\"");
    expect("/contentsafety/text:analyze", js, "{\"text\":\"x\",\"categories\":[\"Spam\"]}", 400,
           "categories");
    expect("/contentsafety/text:analyze", js, "{\"text\":\"x\",\"categories\":{}}", 200,
           "\"categoriesAnalysis\":[{\"category\":\"Hate\",\"severity\":0}");
    expect("/contentsafety/text:analyze", js, "{\"text\":\"x\",\"outputType\":\"Two\"}", 400,
           "outputType");
    expect("/beta/litellm_basic_guardrail_api", js, "{\"texts\":[1]}", 400, "texts");
    expect("/beta/litellm_basic_guardrail_api", js, "{\"texts\":[]}", 200, "\"action\":\"NONE\"");
    expect("/v1/webhooks/portkey", js, "{\"request\":{}}", 400, "request.text");
    expect("/v1/webhooks/portkey", js, "[]", 400, "bad_request");
}
