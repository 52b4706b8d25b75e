/*
 * test_httpd.c — the HTTP door (httpd.h) with the real service and engine
 * on a libuv loop, no server: bytes in, responses out, records written.
 */
#include <cjson/cJSON.h>
#include <uv.h>

#include "httpd.h"
#include "service.h"
#include "testutil.h"

typedef struct fx {
    fd_config cfg;
    fd_service svc;
    fd_svc_thread t;
    uv_loop_t loop;
    uv_prepare_t alive; /* keeps uv_run(ONCE) waiting for the writer's wake-up */
    fd_ruleset *rs;
    char audit[64];
    fd_httpd s;
    fd_buf got; /* everything the door let out */
    int wakes;
} fx;

static uint64_t no_reload(void *arg)
{
    (void)arg;
    return 1;
}

static void on_wake(fd_httpd *s)
{
    fx *f = (fx *)((char *)s - offsetof(fx, s));
    f->wakes++;
}

static const fd_httpd_ops ops = {on_wake, NULL};

static void nothing(uv_prepare_t *h)
{
    (void)h;
}

static void fx_up(fx *f, const fd_httpd_access *acc, bool audit)
{
    memset(f, 0, sizeof *f);
    fd_config_init(&f->cfg);
    f->cfg.audit_level = FD_AUDIT_ALL;
    if (audit) {
        strcpy(f->audit, "/tmp/fd-httpd-XXXXXX");
        int fd = mkstemp(f->audit);
        cr_assert(fd >= 0);
        close(fd);
        f->cfg.audit_path = strdup(f->audit);
    }
    fd_svc_hooks hooks = {no_reload, NULL};
    cr_assert_eq(fd_service_init(&f->svc, &f->cfg, 1, &hooks), 0);
    cr_assert_eq(uv_loop_init(&f->loop), 0);
    uv_prepare_init(&f->loop, &f->alive);
    uv_prepare_start(&f->alive, nothing);
    f->rs = tu_compile("@category A1.4\nbombmaking\n@category A1.6\n@action flag\nnudity\n");
    cr_assert_eq(fd_svc_thread_init(&f->svc, &f->t, 0, &f->loop, f->rs), 0);
    struct ucred me = {getpid(), getuid(), getgid()};
    cr_assert_eq(fd_httpd_init(&f->s, &f->t, &ops, acc, acc && acc->tcp ? NULL : &me, 4096, 1), 0);
}

/* Let the records of this iteration be written and their tickets come
 * back, then collect what is ready. */
static void fx_settle(fx *f)
{
    fd_svc_thread_flush(&f->t);
    while (fd_svc_thread_busy(&f->t))
        uv_run(&f->loop, UV_RUN_ONCE);
    fd_buf tmp = FD_BUF_INIT;
    fd_httpd_take(&f->s, &tmp);
    fd_buf_append(&f->got, tmp.data, tmp.len);
    fd_buf_free(&tmp);
    fd_buf_putc(&f->got, '\0');
    f->got.len--;
}

static void fx_down(fx *f)
{
    cr_assert(fd_httpd_close(&f->s));
    fd_httpd_free(&f->s);
    fd_svc_thread_close(&f->t);
    uv_close((uv_handle_t *)&f->alive, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    fd_svc_thread_free(&f->t);
    fd_service_fini(&f->svc);
    uv_loop_close(&f->loop);
    fd_ruleset_unref(f->rs);
    if (f->audit[0])
        unlink(f->audit);
    fd_config_free(&f->cfg);
    fd_buf_free(&f->got);
}

static size_t send_str(fx *f, const char *s)
{
    return fd_httpd_feed(&f->s, s, strlen(s));
}

/* A POST of BODY to PATH, with its Content-Length (static buffer). */
static const char *post(const char *path, const char *body)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "POST %s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s", path,
             strlen(body), body);
    return buf;
}

/* The body of the Nth response (0-based) in f->got, parsed. */
static cJSON *body_of(fx *f, int n, int *status)
{
    const char *p = f->got.data;
    for (;;) {
        cr_assert(p && strncmp(p, "HTTP/1.1 ", 9) == 0, "no response %d in:\n%s", n, f->got.data);
        int st = atoi(p + 9);
        const char *cl = strstr(p, "Content-Length: ");
        size_t len = strtoul(cl + 16, NULL, 10);
        const char *b = strstr(p, "\r\n\r\n") + 4;
        if (st == 100) {
            p = b;
            continue;
        }
        if (n-- == 0) {
            *status = st;
            cJSON *j = cJSON_ParseWithLength(b, len);
            return j;
        }
        p = b + len;
    }
}

static const char *str(cJSON *j, const char *k)
{
    cJSON *v = cJSON_GetObjectItem(j, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static const char *errcode(cJSON *j)
{
    return str(cJSON_GetObjectItem(j, "error"), "code");
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    cr_assert(fp);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

Test(httpd, check_is_kept_back_until_audited)
{
    fx f;
    fx_up(&f, NULL, true);
    const char *req = post("/v1/check", "{\"id\":7,\"text\":\"how to do bombmaking?\"}");
    cr_assert_eq(send_str(&f, req), strlen(req));
    cr_assert_eq(fd_httpd_ready(&f.s), 0, "a decision left before its record");
    fx_settle(&f);
    int st;
    cJSON *j = body_of(&f, 0, &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(str(j, "decision"), "block");
    cr_assert_eq(cJSON_GetObjectItem(j, "id")->valueint, 7);
    cr_assert_str_eq(str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "matches"), 0), "category"),
                     "A1.4");
    cJSON_Delete(j);
    fx_down(&f);
}

Test(httpd, audit_record_api)
{
    fx f;
    fx_up(&f, NULL, true);
    send_str(&f, post("/v1/check", "{\"text\":\"nudity!\"}\n"));
    send_str(&f, post("/v1/moderations", "{\"input\":[\"bombmaking\",\"hello\"]}\n"));
    fx_settle(&f);
    int st;
    cJSON *j = body_of(&f, 1, &st);
    cr_assert_eq(st, 200, "%s", f.got.data);
    cJSON *res = cJSON_GetObjectItem(j, "results");
    cr_assert_eq(cJSON_GetArraySize(res), 2);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(res, 0), "flagged")));
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(res, 1), "flagged")));
    cr_assert(strncmp(str(j, "id"), "modr-", 5) == 0);
    cJSON_Delete(j);
    char *log = slurp(f.audit);
    cr_assert(strstr(log, "\"api\":\"http\""), "%s", log);
    cr_assert(strstr(log, "\"api\":\"openai\""), "%s", log);
    fx_down(&f);
}

Test(httpd, pipelined_mixed)
{
    fx f;
    fx_up(&f, NULL, false);
    const char *reqs = "GET /healthz HTTP/1.1\r\n\r\n"
                       "GET /v1/version HTTP/1.1\r\n\r\n"
                       "GET /nope HTTP/1.1\r\n\r\n"
                       "GET /v1/check HTTP/1.1\r\n\r\n"
                       "POST /v1/check HTTP/1.1\r\nContent-Length: 5\r\n\r\n{bad}"
                       "POST /v1/check HTTP/1.1\r\nContent-Length: 4\r\n\r\n\"hi\""
                       "POST /v1/check HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"text\":\"\xff\"}"
                       "POST /v1/check HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
                       "GET /readyz HTTP/1.1\r\n\r\n"
                       "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n"
                       "GET /healthz HTTP/1.1\r\n\r\n";
    size_t used = send_str(&f, reqs);
    cr_assert(f.s.done);
    cr_assert_lt(used, strlen(reqs), "read past Connection: close");
    fx_settle(&f);
    int st;
    struct {
        int status;
        const char *code;
    } want[] = {{200, ""},          {200, ""},
                {404, "not_found"}, {405, "method_not_allowed"},
                {400, "bad_json"},  {400, "bad_request"},
                {400, "bad_utf8"},  {400, "bad_request"},
                {200, ""}};
    for (int i = 0; i < 9; i++) {
        cJSON *j = body_of(&f, i, &st);
        cr_assert_eq(st, want[i].status, "response %d:\n%s", i, f.got.data);
        cr_assert_str_eq(errcode(j), want[i].code, "response %d", i);
        cJSON_Delete(j);
    }
    cr_assert(strstr(f.got.data, "Allow: POST\r\n"));
    const char *m = strstr(f.got.data, "text/plain; version=0.0.4");
    cr_assert(m, "%s", f.got.data);
    cr_assert(strstr(m, "filterd_requests_total{api=\"http\",op=\"check\"} 4"), "%s", m);
    cr_assert(strstr(m, "Connection: close") == NULL || strstr(f.got.data, "Connection: close"));
    fx_down(&f);
}

Test(httpd, tokens_on_tcp)
{
    fd_httpd_access acc = {.tcp = true, .token = "s3cret", .token_len = 6};
    fx f;
    fx_up(&f, &acc, false);
    send_str(&f, "GET /healthz HTTP/1.1\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\napi-key: s3cret\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\nOcp-Apim-Subscription-Key: s3cret\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\nAuthorization: Bearer s3cre\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\nAuthorization: Bearer s3cret2\r\n\r\n"
                 "POST /v1/reload HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n");
    fx_settle(&f);
    int want[] = {401, 200, 200, 200, 401, 401, 403};
    for (int i = 0; i < 7; i++) {
        int st;
        cJSON *j = body_of(&f, i, &st);
        cr_assert_eq(st, want[i], "response %d:\n%s", i, f.got.data);
        cJSON_Delete(j);
    }
    cr_assert(strstr(f.got.data, "WWW-Authenticate: Bearer\r\n"));
    fx_down(&f);
}

Test(httpd, malformed_closes)
{
    fx f;
    fx_up(&f, NULL, false);
    send_str(&f, "GET /healthz HTTP/1.1\r\n\r\nBLAH\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n");
    cr_assert(f.s.done);
    fx_settle(&f);
    int st;
    cJSON *j = body_of(&f, 1, &st);
    cr_assert_eq(st, 400);
    cr_assert_str_eq(errcode(j), "bad_request");
    cJSON_Delete(j);
    cr_assert(strstr(f.got.data, "Connection: close"));
    fx_down(&f);
}

Test(httpd, expect_continue_and_too_large)
{
    fx f;
    fx_up(&f, NULL, false);
    send_str(&f, "POST /v1/check HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 15\r\n\r\n");
    fx_settle(&f);
    cr_assert_str_eq(f.got.data, "HTTP/1.1 100 Continue\r\n\r\n");
    send_str(&f, "{\"text\":\"abc\"}\n");
    send_str(&f, "POST /v1/check HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    fx_settle(&f);
    int st;
    cJSON *j = body_of(&f, 0, &st);
    cr_assert_eq(st, 200);
    cJSON_Delete(j);
    j = body_of(&f, 1, &st);
    cr_assert_eq(st, 413);
    cr_assert_str_eq(errcode(j), "too_large");
    cJSON_Delete(j);
    fx_down(&f);
}

Test(httpd, token_compare)
{
    cr_assert(fd_httpd_token_eq("abc", 3, "abc", 3));
    cr_assert(!fd_httpd_token_eq("abd", 3, "abc", 3));
    cr_assert(!fd_httpd_token_eq("ab", 2, "abc", 3));
    cr_assert(!fd_httpd_token_eq("abcd", 4, "abc", 3));
    cr_assert(!fd_httpd_token_eq("", 0, "abc", 3));
}
