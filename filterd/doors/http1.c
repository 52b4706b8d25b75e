/*
 * http1.c — see http1.h.
 *
 * llhttp calls back with pieces of the request as it scans; we keep only
 * what the door needs (the target, four headers, the body), bounded by the
 * limits as it arrives, so a hostile client costs at most the limits.
 *
 * Two pauses give us positions llhttp does not report otherwise: at the end
 * of the headers (how many bytes the request line and headers took, for
 * 431, and where a body would start, for 100-continue) and at the end of
 * each message (where the next pipelined request starts).
 */
#include "http1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>

/* The headers we keep. */
enum { HDR_AUTH = 0, HDR_API_KEY, HDR_APIM_KEY, HDR_EXPECT, HDR_N };

static const char *const hdr_names[HDR_N] = {
    [HDR_AUTH] = "authorization",
    [HDR_API_KEY] = "api-key",
    [HDR_APIM_KEY] = "ocp-apim-subscription-key",
    [HDR_EXPECT] = "expect",
};

struct fd_http_parser {
    llhttp_t llh;
    size_t body_max;
    fd_buf head; /* the target, then the values of the kept headers */
    fd_buf body;
    size_t url_len;
    char field[32]; /* the header name being received (long names are not ours) */
    size_t field_len;
    bool field_long;
    int cur; /* the kept header whose value is being received, or -1 */
    size_t val_off[HDR_N], val_len[HDR_N];
    bool have[HDR_N];
    size_t head_seen;     /* bytes of target, names and values seen by the callbacks */
    size_t head_bytes;    /* bytes since the previous request's end, up to its headers' end */
    bool in_head;         /* before the end of the current request's headers */
    bool head_ended;      /* the headers ended in the current llhttp_execute() */
    bool started;         /* the current request's first byte has arrived */
    bool complete;        /* the current request is complete, not yet released */
    bool want_continue;   /* its headers asked for 100-continue */
    int err_status;       /* 0, or the error status */
    const char *err_code; /* SPEC §2 code */
    const char *err_msg;
    fd_http_request req;
};

static fd_http_parser *P(llhttp_t *l)
{
    return l->data;
}

static int fail(fd_http_parser *p, int status, const char *code, const char *msg)
{
    if (!p->err_status) {
        p->err_status = status;
        p->err_code = code;
        p->err_msg = msg;
    }
    return -1;
}

/* Count N bytes of request line or headers seen by a callback: the limit
 * holds inside one large read already, before the headers end. */
static int count_head(fd_http_parser *p, size_t n)
{
    if (n > FD_HTTP_HEAD_MAX || (p->head_seen += n) > FD_HTTP_HEAD_MAX)
        return fail(p, 431, "too_large", "request headers exceed 16 KiB");
    return 0;
}

/* Keep N more bytes of request line and headers (counted already). */
static int keep_head(fd_http_parser *p, const char *at, size_t n)
{
    fd_buf_append(&p->head, at, n);
    if (p->head.oom)
        return fail(p, 500, "internal", "out of memory");
    return 0;
}

static int on_message_begin(llhttp_t *l)
{
    P(l)->started = true;
    return 0;
}

static int on_url(llhttp_t *l, const char *at, size_t n)
{
    fd_http_parser *p = P(l);
    p->url_len += n;
    if (count_head(p, n) != 0)
        return -1;
    return keep_head(p, at, n);
}

static int on_header_field(llhttp_t *l, const char *at, size_t n)
{
    fd_http_parser *p = P(l);
    if (count_head(p, n) != 0)
        return -1;
    if (p->field_len + n >= sizeof p->field) {
        p->field_long = true;
        return 0;
    }
    memcpy(p->field + p->field_len, at, n);
    p->field_len += n;
    return 0;
}

static int on_header_field_complete(llhttp_t *l)
{
    fd_http_parser *p = P(l);
    p->cur = -1;
    if (!p->field_long) {
        for (int i = 0; i < HDR_N; i++) {
            if (strlen(hdr_names[i]) == p->field_len &&
                strncasecmp(p->field, hdr_names[i], p->field_len) == 0) {
                /* Two credentials of one kind: which one counts would be a
                 * guess, and a guess about credentials is a hole. */
                if (p->have[i] && i != HDR_EXPECT)
                    return fail(p, 400, "bad_request", "duplicate credential header");
                p->cur = i;
                p->val_off[i] = p->head.len;
                p->val_len[i] = 0;
                break;
            }
        }
    }
    p->field_len = 0;
    p->field_long = false;
    return 0;
}

static int on_header_value(llhttp_t *l, const char *at, size_t n)
{
    fd_http_parser *p = P(l);
    if (count_head(p, n) != 0)
        return -1;
    if (p->cur < 0)
        return 0;
    p->val_len[p->cur] += n;
    return keep_head(p, at, n);
}

static int on_header_value_complete(llhttp_t *l)
{
    fd_http_parser *p = P(l);
    if (p->cur >= 0)
        p->have[p->cur] = true;
    p->cur = -1;
    return 0;
}

static bool value_is(const fd_http_parser *p, int h, const char *s)
{
    return p->have[h] && p->val_len[h] == strlen(s) &&
           strncasecmp(p->head.data + p->val_off[h], s, p->val_len[h]) == 0;
}

static int on_headers_complete(llhttp_t *l)
{
    fd_http_parser *p = P(l);
    p->in_head = false;
    p->head_ended = true;
    if (l->http_major != 1)
        return fail(p, 505, "bad_request", "only HTTP/1.x is supported");
    if ((l->flags & F_CONTENT_LENGTH) && l->content_length > p->body_max)
        return fail(p, 413, "too_large", "request body exceeds --max-request");
    bool has_body = (l->flags & F_CHUNKED) || ((l->flags & F_CONTENT_LENGTH) && l->content_length);
    p->want_continue = has_body && value_is(p, HDR_EXPECT, "100-continue");
    return HPE_PAUSED; /* see the top of the file */
}

static int on_body(llhttp_t *l, const char *at, size_t n)
{
    fd_http_parser *p = P(l);
    if (n > p->body_max || p->body.len + n > p->body_max)
        return fail(p, 413, "too_large", "request body exceeds --max-request");
    fd_buf_append(&p->body, at, n);
    if (p->body.oom)
        return fail(p, 500, "internal", "out of memory");
    return 0;
}

static int on_message_complete(llhttp_t *l)
{
    P(l)->complete = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void reset_request(fd_http_parser *p)
{
    p->head.len = 0;
    p->body.len = 0;
    p->url_len = 0;
    p->field_len = 0;
    p->field_long = false;
    p->cur = -1;
    memset(p->have, 0, sizeof p->have);
    p->head_seen = 0;
    p->head_bytes = 0;
    p->in_head = true;
    p->head_ended = false;
    p->started = false;
    p->complete = false;
    p->want_continue = false;
}

fd_http_parser *fd_http_parser_new(size_t body_max)
{
    fd_http_parser *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    llhttp_init(&p->llh, HTTP_REQUEST, &settings);
    p->llh.data = p;
    p->body_max = body_max;
    reset_request(p);
    return p;
}

void fd_http_parser_free(fd_http_parser *p)
{
    if (!p)
        return;
    fd_buf_free(&p->head);
    fd_buf_free(&p->body);
    free(p);
}

static fd_http_method method_of(uint8_t m)
{
    switch (m) {
    case HTTP_GET:
        return FD_HTTP_GET;
    case HTTP_HEAD:
        return FD_HTTP_HEAD;
    case HTTP_POST:
        return FD_HTTP_POST;
    default:
        return FD_HTTP_OTHER;
    }
}

/* Fill p->req from the finished request. */
static int finish_request(fd_http_parser *p)
{
    fd_http_request *r = &p->req;
    memset(r, 0, sizeof(*r));
    /* The body is handed out NUL-terminated (JSON parsers like that). */
    fd_buf_putc(&p->body, '\0');
    if (p->body.oom)
        return fail(p, 500, "internal", "out of memory");
    p->body.len--;
    r->method = method_of(p->llh.method);
    r->method_name = llhttp_method_name((llhttp_method_t)p->llh.method);
    r->path = p->head.data ? p->head.data : "";
    const char *q = p->url_len ? memchr(r->path, '?', p->url_len) : NULL;
    r->path_len = q ? (size_t)(q - r->path) : p->url_len;
    r->query = q ? q + 1 : "";
    r->query_len = q ? p->url_len - r->path_len - 1 : 0;
    r->body = p->body.data;
    r->body_len = p->body.len;
    if (p->have[HDR_AUTH]) {
        const char *v = p->head.data + p->val_off[HDR_AUTH];
        size_t n = p->val_len[HDR_AUTH];
        r->auth = v;
        r->auth_len = n;
        if (n > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
            size_t i = 7;
            while (i < n && v[i] == ' ')
                i++;
            r->cred[FD_HTTP_CRED_BEARER] = v + i;
            r->cred_len[FD_HTTP_CRED_BEARER] = n - i;
        } else {
            r->auth_other = true;
        }
    }
    static const int cred_hdr[FD_HTTP_NCREDS] = {
        [FD_HTTP_CRED_API_KEY] = HDR_API_KEY,
        [FD_HTTP_CRED_APIM_KEY] = HDR_APIM_KEY,
    };
    for (int i = FD_HTTP_CRED_API_KEY; i < FD_HTTP_NCREDS; i++) {
        int h = cred_hdr[i];
        if (p->have[h]) {
            r->cred[i] = p->head.data + p->val_off[h];
            r->cred_len[i] = p->val_len[h];
        }
    }
    r->keep_alive = llhttp_should_keep_alive(&p->llh) && !p->llh.upgrade;
    r->version_minor = p->llh.http_minor;
    return 0;
}

fd_http_event fd_http_parser_feed(fd_http_parser *p, const char *data, size_t len, size_t *used)
{
    *used = 0;
    if (p->err_status)
        return FD_HTTP_ERROR;
    if (p->complete)
        return FD_HTTP_REQUEST;
    size_t off = 0;
    for (;;) {
        const char *start = data + off;
        p->head_ended = false;
        llhttp_errno_t e = llhttp_execute(&p->llh, start, len - off);
        size_t n = len - off;
        if (e == HPE_PAUSED) {
            n = (size_t)(llhttp_get_error_pos(&p->llh) - start);
            llhttp_resume(&p->llh);
        } else if (e != HPE_OK) {
            *used = off;
            if (e == HPE_PAUSED_H2_UPGRADE)
                fail(p, 505, "bad_request", "HTTP/2 is not supported");
            else if (e == HPE_PAUSED_UPGRADE)
                fail(p, 400, "bad_request", "protocol upgrades are not supported");
            else
                fail(p, 400, "bad_request", "malformed HTTP request");
            return FD_HTTP_ERROR;
        }
        if (p->in_head || p->head_ended) {
            p->head_bytes += n;
            if (p->head_bytes > FD_HTTP_HEAD_MAX) {
                *used = off + n;
                fail(p, 431, "too_large", "request headers exceed 16 KiB");
                return FD_HTTP_ERROR;
            }
        }
        off += n;
        *used = off;
        if (p->complete)
            return finish_request(p) == 0 ? FD_HTTP_REQUEST : FD_HTTP_ERROR;
        if (p->head_ended) {
            /* Paused at the end of the headers: no byte of a body has come
             * yet if the input ends here. Run on (even with nothing left:
             * a request without a body completes without input). */
            if (p->want_continue && off == len) {
                p->want_continue = false;
                return FD_HTTP_CONTINUE;
            }
            p->want_continue = false;
            continue;
        }
        if (off == len)
            return FD_HTTP_MORE;
    }
}

const fd_http_request *fd_http_parser_request(const fd_http_parser *p)
{
    return &p->req;
}

void fd_http_parser_next(fd_http_parser *p)
{
    if (p->err_status)
        return;
    reset_request(p);
    /* Give back what one unusually large request made us hold. */
    if (p->body.cap > 64 * 1024)
        fd_buf_free(&p->body);
}

bool fd_http_parser_busy(const fd_http_parser *p)
{
    return p->started && !p->complete;
}

int fd_http_parser_error(const fd_http_parser *p, const char **code, const char **message)
{
    if (code)
        *code = p->err_code;
    if (message)
        *message = p->err_msg;
    return p->err_status;
}

/* ---- responses ---- */

const char *fd_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* Content-Length is written as this many characters, then shrunk. */
#define CL_ROOM 10

size_t fd_http_begin(fd_buf *out, int status, const char *ctype, bool close, const char *extra)
{
    fd_buf_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status, fd_http_reason(status),
                  ctype);
    if (close)
        fd_buf_puts(out, "Connection: close\r\n");
    if (extra)
        fd_buf_puts(out, extra);
    fd_buf_puts(out, "Content-Length: ");
    size_t mark = out->len;
    fd_buf_puts(out, "          \r\n\r\n"); /* CL_ROOM spaces */
    return mark;
}

void fd_http_end(fd_buf *out, size_t mark, bool no_body)
{
    if (out->oom)
        return;
    size_t body_at = mark + CL_ROOM + 4;
    size_t blen = out->len - body_at;
    char num[24];
    int k = snprintf(num, sizeof num, "%zu", blen);
    if (k <= 0 || k > CL_ROOM) { /* a 10 GB response: cannot happen, fail loudly */
        out->oom = true;
        return;
    }
    memcpy(out->data + mark, num, (size_t)k);
    size_t tail = 4 + (no_body ? 0 : blen); /* "\r\n\r\n" and the body */
    memmove(out->data + mark + k, out->data + mark + CL_ROOM, tail);
    out->len = mark + (size_t)k + tail;
}

void fd_http_error(fd_buf *out, int status, const char *code, const char *msg, bool close,
                   const char *extra, bool no_body)
{
    size_t m = fd_http_begin(out, status, "application/json", close, extra);
    fd_buf_puts(out, "{\"error\":{\"code\":\"");
    fd_buf_puts(out, code);
    fd_buf_puts(out, "\",\"message\":");
    fd_buf_json_str(out, msg, strlen(msg));
    fd_buf_puts(out, "}}\n");
    fd_http_end(out, m, no_body);
}

void fd_http_continue(fd_buf *out)
{
    fd_buf_puts(out, "HTTP/1.1 100 Continue\r\n\r\n");
}
