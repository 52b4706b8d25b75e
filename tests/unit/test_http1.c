/*
 * test_http1.c — HTTP/1.1 request framing and response writing (http1.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#define MAXB 1024

/* Feed S (all of it, in pieces of STEP bytes; 0 = at once) until an event
 * other than MORE; *CONSUMED gets the bytes used in total. */
static fd_http_event feed_all(fd_http_parser *p, const char *s, size_t len, size_t step,
                              size_t *consumed)
{
    size_t off = 0;
    fd_http_event ev = FD_HTTP_MORE;
    while (off < len) {
        size_t n = step && len - off > step ? step : len - off;
        size_t used;
        ev = fd_http_parser_feed(p, s + off, n, &used);
        off += used;
        if (ev != FD_HTTP_MORE)
            break;
        cr_assert_eq(used, n);
    }
    *consumed = off;
    return ev;
}

static fd_http_event feed_str(fd_http_parser *p, const char *s, size_t *consumed)
{
    return feed_all(p, s, strlen(s), 0, consumed);
}

static bool path_is(const fd_http_request *r, const char *s)
{
    return r->path_len == strlen(s) && memcmp(r->path, s, r->path_len) == 0;
}

Test(http1, simple_get)
{
    fd_http_parser *p = fd_http_parser_new(MAXB);
    const char *s = "GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t used;
    cr_assert_eq(feed_str(p, s, &used), FD_HTTP_REQUEST);
    cr_assert_eq(used, strlen(s));
    const fd_http_request *r = fd_http_parser_request(p);
    cr_assert_eq(r->method, FD_HTTP_GET);
    cr_assert(path_is(r, "/healthz"));
    cr_assert(r->keep_alive);
    cr_assert_eq(r->body_len, 0);
    cr_assert_eq(r->cred[0], NULL);
    cr_assert(!fd_http_parser_busy(p));
    fd_http_parser_free(p);
}

Test(http1, pipelined_requests_in_one_read)
{
    fd_http_parser *p = fd_http_parser_new(MAXB);
    const char *s = "POST /v1/check HTTP/1.1\r\nContent-Length: 13\r\n\r\n{\"text\":\"hi\"}"
                    "GET /metrics HTTP/1.1\r\n\r\n"
                    "POST /v1/check HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    size_t len = strlen(s), off = 0, used;
    const char *paths[] = {"/v1/check", "/metrics", "/v1/check"};
    const char *bodies[] = {"{\"text\":\"hi\"}", "", "{}"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fd_http_parser_feed(p, s + off, len - off, &used), FD_HTTP_REQUEST, "req %d",
                     i);
        off += used;
        const fd_http_request *r = fd_http_parser_request(p);
        cr_assert(path_is(r, paths[i]));
        cr_assert_str_eq(r->body, bodies[i]);
        cr_assert_eq(r->body_len, strlen(bodies[i]));
        /* a request already handed out is handed out again until next() */
        cr_assert_eq(fd_http_parser_feed(p, s + off, len - off, &used), FD_HTTP_REQUEST);
        cr_assert_eq(used, 0);
        fd_http_parser_next(p);
    }
    cr_assert_eq(off, len);
    fd_http_parser_free(p);
}

Test(http1, body_byte_by_byte)
{
    fd_http_parser *p = fd_http_parser_new(MAXB);
    const char *s = "POST /v1/check HTTP/1.1\r\ncontent-length: 19\r\n\r\n{\"text\":\"abcdefgh\"}";
    size_t used;
    cr_assert_eq(feed_all(p, s, strlen(s) - 1, 1, &used), FD_HTTP_MORE);
    cr_assert(fd_http_parser_busy(p));
    cr_assert_eq(feed_all(p, s + strlen(s) - 1, 1, 1, &used), FD_HTTP_REQUEST);
    cr_assert_str_eq(fd_http_parser_request(p)->body, "{\"text\":\"abcdefgh\"}");
    fd_http_parser_free(p);
}

Test(http1, chunked_body)
{
    fd_http_parser *p = fd_http_parser_new(MAXB);
    const char *s = "POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\n{\"tex\r\n"
                    "9;ext=1\r\nt\":\"chunk\r\n"
                    "2\r\n\"}\r\n"
                    "0\r\n\r\n";
    for (size_t step = 0; step < 8; step++) {
        size_t used;
        cr_assert_eq(feed_all(p, s, strlen(s), step, &used), FD_HTTP_REQUEST, "step %zu", step);
        cr_assert_eq(used, strlen(s));
        cr_assert_str_eq(fd_http_parser_request(p)->body, "{\"text\":\"chunk\"}");
        fd_http_parser_next(p);
    }
    fd_http_parser_free(p);
}

Test(http1, expect_continue)
{
    fd_http_parser *p = fd_http_parser_new(MAXB);
    const char *h = "POST /v1/check HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    size_t used;
    cr_assert_eq(feed_str(p, h, &used), FD_HTTP_CONTINUE);
    cr_assert_eq(used, strlen(h));
    cr_assert_eq(feed_str(p, "{}", &used), FD_HTTP_REQUEST);
    cr_assert_str_eq(fd_http_parser_request(p)->body, "{}");
    fd_http_parser_next(p);

    /* the body came with the headers: no interim response */
    char both[256];
    snprintf(both, sizeof both, "%s{}", h);
    cr_assert_eq(feed_str(p, both, &used), FD_HTTP_REQUEST);
    fd_http_parser_next(p);

    /* no body: nothing to continue */
    cr_assert_eq(feed_str(p, "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", &used),
                 FD_HTTP_REQUEST);
    fd_http_parser_free(p);
}

Test(http1, body_over_limit_announced)
{
    fd_http_parser *p = fd_http_parser_new(MAXB);
    const char *h =
        "POST /v1/check HTTP/1.1\r\nContent-Length: 1025\r\nExpect: 100-continue\r\n\r\n";
    size_t used;
    cr_assert_eq(feed_str(p, h, &used), FD_HTTP_ERROR);
    const char *code, *msg;
    cr_assert_eq(fd_http_parser_error(p, &code, &msg), 413);
    cr_assert_str_eq(code, "too_large");
    /* sticky */
    cr_assert_eq(fd_http_parser_feed(p, "x", 1, &used), FD_HTTP_ERROR);
    fd_http_parser_free(p);

    /* exactly the limit is fine */
    p = fd_http_parser_new(4);
    cr_assert_eq(feed_str(p, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd", &used),
                 FD_HTTP_REQUEST);
    fd_http_parser_free(p);
}

Test(http1, chunked_over_limit)
{
    fd_http_parser *p = fd_http_parser_new(8);
    const char *s =
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n4\r\nfghi\r\n";
    size_t used;
    cr_assert_eq(feed_str(p, s, &used), FD_HTTP_ERROR);
    cr_assert_eq(fd_http_parser_error(p, NULL, NULL), 413);
    fd_http_parser_free(p);
}

Test(http1, headers_over_16k)
{
    /* one huge header, in one read and in small reads */
    size_t big = FD_HTTP_HEAD_MAX + 100;
    char *s = malloc(big + 64);
    int n = snprintf(s, 64, "GET / HTTP/1.1\r\nX-Big: ");
    memset(s + n, 'a', big);
    strcpy(s + n + big, "\r\n\r\n");
    for (size_t step = 0; step <= 1000; step += 1000) {
        fd_http_parser *p = fd_http_parser_new(MAXB);
        size_t used;
        cr_assert_eq(feed_all(p, s, strlen(s), step, &used), FD_HTTP_ERROR);
        const char *code;
        cr_assert_eq(fd_http_parser_error(p, &code, NULL), 431);
        cr_assert_str_eq(code, "too_large");
        fd_http_parser_free(p);
    }
    /* many small headers */
    char *m = malloc(40000);
    size_t len = (size_t)sprintf(m, "GET / HTTP/1.1\r\n");
    while (len < 20000)
        len += (size_t)sprintf(m + len, "X-H%zu: v\r\n", len);
    strcpy(m + len, "\r\n");
    fd_http_parser *p = fd_http_parser_new(MAXB);
    size_t used;
    cr_assert_eq(feed_all(p, m, strlen(m), 7, &used), FD_HTTP_ERROR);
    cr_assert_eq(fd_http_parser_error(p, NULL, NULL), 431);
    fd_http_parser_free(p);
    /* a long URL */
    len = (size_t)sprintf(m, "GET /");
    memset(m + len, 'u', 17000);
    strcpy(m + len + 17000, " HTTP/1.1\r\n\r\n");
    p = fd_http_parser_new(MAXB);
    cr_assert_eq(feed_str(p, m, &used), FD_HTTP_ERROR);
    cr_assert_eq(fd_http_parser_error(p, NULL, NULL), 431);
    fd_http_parser_free(p);
    /* just under: fine, even when the body follows in the same read */
    len = (size_t)sprintf(m, "POST / HTTP/1.1\r\nContent-Length: 3\r\nX-Pad: ");
    size_t pad = FD_HTTP_HEAD_MAX - len - 4;
    memset(m + len, 'p', pad);
    strcpy(m + len + pad, "\r\n\r\nabc");
    cr_assert_eq(strlen(m), FD_HTTP_HEAD_MAX + 3);
    p = fd_http_parser_new(MAXB);
    cr_assert_eq(feed_str(p, m, &used), FD_HTTP_REQUEST);
    cr_assert_str_eq(fd_http_parser_request(p)->body, "abc");
    fd_http_parser_free(p);
    free(m);
    free(s);
}

Test(http1, malformed)
{
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nX\x01Y: v\r\n\r\n",
        "GET / HTTP/x.y\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* TLS */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fd_http_parser *p = fd_http_parser_new(MAXB);
        size_t used;
        cr_assert_eq(feed_str(p, bad[i], &used), FD_HTTP_ERROR, "case %zu", i);
        const char *code, *msg;
        cr_assert_eq(fd_http_parser_error(p, &code, &msg), 400, "case %zu", i);
        cr_assert_str_eq(code, "bad_request");
        fd_http_parser_free(p);
    }
    fd_http_parser *p = fd_http_parser_new(MAXB);
    size_t used;
    cr_assert_eq(feed_str(p, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &used), FD_HTTP_ERROR);
    cr_assert_eq(fd_http_parser_error(p, NULL, NULL), 505);
    fd_http_parser_free(p);
}

Test(http1, credentials)
{
    fd_http_parser *p = fd_http_parser_new(MAXB);
    size_t used;
    cr_assert_eq(feed_str(p,
                          "GET / HTTP/1.1\r\nauthorization: bearer  tok1\r\nAPI-Key: tok2\r\n"
                          "Ocp-Apim-Subscription-Key: tok3\r\n\r\n",
                          &used),
                 FD_HTTP_REQUEST);
    const fd_http_request *r = fd_http_parser_request(p);
    const char *want[] = {"tok1", "tok2", "tok3"};
    for (int i = 0; i < FD_HTTP_NCREDS; i++) {
        cr_assert_eq(r->cred_len[i], 4);
        cr_assert_eq(memcmp(r->cred[i], want[i], 4), 0);
    }
    cr_assert(!r->auth_other);
    fd_http_parser_next(p);
    cr_assert_eq(feed_str(p, "GET / HTTP/1.1\r\nAuthorization: Basic eDp5\r\n\r\n", &used),
                 FD_HTTP_REQUEST);
    r = fd_http_parser_request(p);
    cr_assert(r->auth_other);
    cr_assert_eq(r->cred[FD_HTTP_CRED_BEARER], NULL);
    fd_http_parser_next(p);
    cr_assert_eq(feed_str(p, "GET / HTTP/1.1\r\napi-key: a\r\napi-key: b\r\n\r\n", &used),
                 FD_HTTP_ERROR);
    cr_assert_eq(fd_http_parser_error(p, NULL, NULL), 400);
    fd_http_parser_free(p);
}

Test(http1, keep_alive_rules)
{
    struct {
        const char *req;
        bool ka;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fd_http_parser *p = fd_http_parser_new(MAXB);
        size_t used;
        cr_assert_eq(feed_str(p, cases[i].req, &used), FD_HTTP_REQUEST, "case %zu", i);
        cr_assert_eq(fd_http_parser_request(p)->keep_alive, cases[i].ka, "case %zu", i);
        fd_http_parser_free(p);
    }
}

Test(http1, methods)
{
    fd_http_parser *p = fd_http_parser_new(MAXB);
    size_t used;
    cr_assert_eq(feed_str(p, "DELETE /v1/check HTTP/1.1\r\n\r\n", &used), FD_HTTP_REQUEST);
    cr_assert_eq(fd_http_parser_request(p)->method, FD_HTTP_OTHER);
    cr_assert_str_eq(fd_http_parser_request(p)->method_name, "DELETE");
    fd_http_parser_next(p);
    cr_assert_eq(feed_str(p, "HEAD /healthz HTTP/1.1\r\n\r\n", &used), FD_HTTP_REQUEST);
    cr_assert_eq(fd_http_parser_request(p)->method, FD_HTTP_HEAD);
    fd_http_parser_free(p);
}

Test(http1, response_writer)
{
    fd_buf out = FD_BUF_INIT;
    size_t m = fd_http_begin(&out, 200, "application/json", false, NULL);
    fd_buf_puts(&out, "{\"ok\":true}\n");
    fd_http_end(&out, m, false);
    fd_buf_putc(&out, '\0');
    cr_assert_str_eq(out.data, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 12\r\n\r\n{\"ok\":true}\n");
    out.len = 0;
    fd_http_error(&out, 405, "method_not_allowed", "use \"POST\"", true, "Allow: POST\r\n", false);
    fd_buf_putc(&out, '\0');
    cr_assert_str_eq(
        out.data,
        "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nAllow: POST\r\nContent-Length: 65\r\n\r\n"
        "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"use \\\"POST\\\"\"}}\n");
    /* HEAD: the length of the body, no body */
    out.len = 0;
    m = fd_http_begin(&out, 200, "text/plain", false, NULL);
    fd_buf_puts(&out, "abc");
    fd_http_end(&out, m, true);
    fd_buf_putc(&out, '\0');
    cr_assert_str_eq(out.data,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n");
    /* empty body */
    out.len = 0;
    m = fd_http_begin(&out, 200, "text/plain", false, NULL);
    fd_http_end(&out, m, false);
    fd_buf_putc(&out, '\0');
    cr_assert_str_eq(out.data,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
    out.len = 0;
    fd_http_continue(&out);
    cr_assert_eq(out.len, strlen("HTTP/1.1 100 Continue\r\n\r\n"));
    fd_buf_free(&out);
}
