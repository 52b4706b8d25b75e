/*
 * fuzz_http.c — HTTP/1.1 request framing (filterd/doors/http1.h).
 *
 * Input: byte 0 = a read size (1..256; 0 = all at once), the rest = the
 * bytes a client sends. The same bytes are fed once whole and once in
 * reads of that size; both must give the same requests (method, path,
 * body, credentials, keep-alive) and the same final error status: framing
 * never depends on how TCP cut the stream. Every request keeps the limits
 * (body <= the body limit, headers <= 16 KiB); every error is one of the
 * statuses SPEC §5 gives. The response writer's Content-Length is checked
 * against the body it wrote.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "http1.h"

#define BODY_MAX 512
#define MAX_REQS 64

typedef struct seen {
    size_t n;
    int err;
    size_t conts;
    fd_buf log; /* each request, serialized */
} seen;

static void record(seen *s, const fd_http_request *r)
{
    FZ_CHECK(r->body_len <= BODY_MAX, "body %zu", r->body_len);
    FZ_CHECK(r->body[r->body_len] == '\0', "body not terminated");
    FZ_CHECK(r->path_len <= FD_HTTP_HEAD_MAX, "path %zu", r->path_len);
    fd_buf_printf(&s->log, "%d %s %d|", (int)r->method, r->method_name, (int)r->keep_alive);
    fd_buf_append(&s->log, r->path, r->path_len);
    fd_buf_putc(&s->log, '|');
    fd_buf_append(&s->log, r->body, r->body_len);
    for (int i = 0; i < FD_HTTP_NCREDS; i++) {
        fd_buf_putc(&s->log, '|');
        if (r->cred[i])
            fd_buf_append(&s->log, r->cred[i], r->cred_len[i]);
    }
    fd_buf_printf(&s->log, "|%d\n", (int)r->auth_other);
    s->n++;
}

static void run(const char *data, size_t len, size_t step, seen *s)
{
    fd_http_parser *p = fd_http_parser_new(BODY_MAX);
    FZ_CHECK(p, "out of memory");
    size_t off = 0, end = 0;
    while (s->n < MAX_REQS) {
        if (off == end) {
            if (end == len)
                break;
            end = step && len - end > step ? end + step : len;
        }
        size_t used;
        fd_http_event ev = fd_http_parser_feed(p, data + off, end - off, &used);
        FZ_CHECK(used <= end - off, "used %zu of %zu", used, end - off);
        off += used;
        if (ev == FD_HTTP_REQUEST) {
            record(s, fd_http_parser_request(p));
            fd_http_parser_next(p);
        } else if (ev == FD_HTTP_CONTINUE) {
            s->conts++;
        } else if (ev == FD_HTTP_ERROR) {
            const char *code, *msg;
            s->err = fd_http_parser_error(p, &code, &msg);
            FZ_CHECK(s->err == 400 || s->err == 413 || s->err == 431 || s->err == 505, "status %d",
                     s->err);
            FZ_CHECK(code && msg && *msg, "no code or message");
            break;
        } else {
            FZ_CHECK(off == end, "MORE with %zu bytes left", end - off);
        }
    }
    fd_http_parser_free(p);
}

/* The response writer on a body taken from the input. */
static void check_writer(const char *body, size_t n)
{
    fd_buf out = FD_BUF_INIT;
    size_t m = fd_http_begin(&out, 200, "application/json", n & 1, NULL);
    fd_buf_append(&out, body, n);
    fd_http_end(&out, m, false);
    FZ_CHECK(!out.oom, "oom");
    const char *cl = memmem(out.data, out.len, "Content-Length: ", 16);
    FZ_CHECK(cl, "no Content-Length");
    size_t v = strtoul(cl + 16, NULL, 10);
    const char *hend = memmem(out.data, out.len, "\r\n\r\n", 4);
    FZ_CHECK(hend && (size_t)(out.data + out.len - (hend + 4)) == v && v == n,
             "Content-Length %zu for %zu", v, n);
    FZ_CHECK(!n || memcmp(hend + 4, body, n) == 0, "body changed");
    fd_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;

    seen whole = {0}, cut = {0};
    run(in, len, 0, &whole);
    run(in, len, step ? step : 1, &cut);
    /* Up to the first error, reads of any size give the same requests; an
     * error may show earlier with whole reads only by the limit checks
     * inside callbacks, which see the same bytes: same status too. */
    if (whole.n < MAX_REQS && cut.n < MAX_REQS) {
        FZ_CHECK(whole.n == cut.n, "%zu requests whole, %zu cut by %zu", whole.n, cut.n, step);
        FZ_CHECK(whole.log.len == cut.log.len &&
                     (!whole.log.len || memcmp(whole.log.data, cut.log.data, whole.log.len) == 0),
                 "requests differ with reads of %zu", step);
        FZ_CHECK(whole.err == cut.err, "error %d whole, %d cut by %zu", whole.err, cut.err, step);
    }
    fd_buf_free(&whole.log);
    fd_buf_free(&cut.log);
    check_writer(in, len > 300 ? 300 : len);
    return 0;
}
