/*
 * fuzz_httpd.c — the HTTP door (filterd/doors/httpd.c) with the service
 * and the engine alone: no server, no sockets, no fake connection. Input:
 * byte 0 = the session's kind and read size (bit 7: a TCP listener with a
 * token "tok" and an admin token "adm"; bits 0-6: bytes per read, 0 = all
 * at once), the rest = what a client sends. Checks: every response is a
 * well-formed HTTP/1.1 message (a known status, Content-Length equal to
 * its body, a JSON object body for JSON, 100 Continue only as an interim
 * response), everything is ready at once (no audit log: nothing is kept
 * back), no reload is started by an unprivileged peer or a TCP client
 * without the admin token, and a session that is done takes no more bytes.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "httpd.h"
#include "ruleset.h"
#include "service.h"

static fd_config cfg;
static fd_service svc;
static fd_svc_thread t;
static uv_loop_t loop;

#undef FAIL
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_httpd: " __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

static void init_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    fd_config_init(&cfg);
    fd_log_set_level(FD_LOG_ERROR);
    /* The fixed rule set of fuzz_common.h (quick to compile under the
     * sanitizers); FILTERD_FUZZ_RULES=DIR for another. */
    fd_ruleset *rs = fz_fixed_ruleset();
    if (uv_loop_init(&loop) != 0 || fd_service_init(&svc, &cfg, 1, NULL) != 0 ||
        fd_svc_thread_init(&svc, &t, 0, &loop, rs) != 0)
        abort();
    fd_ruleset_unref(rs);
}

/* Check every response in OUT; returns how many final ones. */
/* HEAD: the answer to a HEAD request has the headers of the answer to GET,
 * Content-Length included, and no body (RFC 9110 9.3.2). The responses do
 * not say which request they answer, so when the input holds a HEAD
 * request, a response whose body would begin with the next status line is
 * taken as one without a body. */
static size_t check_responses(const fd_buf *out, int has_head)
{
    if (!out->len)
        return 0;
    const char *p = out->data, *end = out->data + out->len;
    size_t n = 0;
    while (p < end) {
        if ((size_t)(end - p) < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0)
            FAIL("not a status line: %.40s", p);
        int status = atoi(p + 9);
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend)
            FAIL("headers without their end");
        hend += 4;
        if (status == 100) {
            p = hend;
            continue;
        }
        static const int known[] = {200, 400, 401, 403, 404, 405, 413, 422, 431, 500, 503, 505};
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok |= known[i] == status;
        if (!ok)
            FAIL("status %d", status);
        const char *cl = memmem(p, (size_t)(hend - p), "\r\nContent-Length: ", 18);
        if (!cl)
            FAIL("no Content-Length");
        size_t len = strtoul(cl + 18, NULL, 10);
        if (has_head &&
            (hend == end || ((size_t)(end - hend) >= 9 && !memcmp(hend, "HTTP/1.1 ", 9)))) {
            p = hend;
            n++;
            continue;
        }
        if ((size_t)(end - hend) < len)
            FAIL("body shorter than its Content-Length");
        if (memmem(p, (size_t)(hend - p), "application/json", 16)) {
            cJSON *j = cJSON_ParseWithLength(hend, len);
            if (!cJSON_IsObject(j))
                FAIL("body is not a JSON object: %.*s", (int)len, hend);
            if (status != 200 && !cJSON_IsObject(cJSON_GetObjectItem(j, "error")))
                FAIL("error %d without an error object", status);
            cJSON_Delete(j);
        }
        p = hend + len;
        n++;
    }
    return n;
}

static void wake(fd_httpd *s)
{
    (void)s;
    FAIL("a wake-up without an audit log or a reload");
}

static void release(fd_httpd *s)
{
    (void)s;
}

static const fd_httpd_ops ops = {wake, release};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size < 1 || size > 1 << 16)
        return 0;
    bool tcp = data[0] & 0x80;
    size_t step = data[0] & 0x7f;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    fd_httpd_access acc = {tcp, "tok", 3, "adm", 3};
    struct ucred peer = {.pid = 1, .uid = 65534, .gid = 65534};
    fd_httpd s;
    if (fd_httpd_init(&s, &t, &ops, &acc, tcp ? NULL : &peer, 4096, 1) != 0)
        abort();
    size_t off = 0;
    while (off < len) {
        size_t n = step && len - off > step ? step : len - off;
        size_t used = fd_httpd_feed(&s, in + off, n);
        if (used > n)
            FAIL("took %zu of %zu bytes", used, n);
        if (fd_httpd_ready(&s) != s.out.len)
            FAIL("a response kept back without an audit log");
        if (s.waiting) {
            /* only a TCP client with the admin token may start a reload */
            if (!tcp || !memmem(in, len, "adm", 3))
                FAIL("a reload for a peer that may not");
            break;
        }
        if (s.done)
            break;
        if (used == 0) {
            if (s.out.len < FD_HTTPD_OUT_HIGH)
                FAIL("no progress");
            break;
        }
        off += used;
    }
    if (s.done && fd_httpd_feed(&s, "GET / HTTP/1.1\r\n\r\n", 18) != 0)
        FAIL("a done session took more bytes");
    check_responses(&s.out, memmem(data, size, "HEAD ", 5) != NULL);
    if (!fd_httpd_close(&s) && !s.reload.waiting && s.refs)
        FAIL("callbacks outstanding after close");
    fd_httpd_free(&s);
    return 0;
}
