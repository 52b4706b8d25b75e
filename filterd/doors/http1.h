/*
 * http1.h — HTTP/1.1 messages: request framing over llhttp, response writing.
 *
 * The parser turns a connection's bytes into complete requests, one at a
 * time and in order (keep-alive and pipelining: the bytes after a request
 * stay with the caller until it asks for the next one). Bodies may come with
 * Content-Length or chunked; `Expect: 100-continue` is reported so that the
 * caller can send the interim response before the client sends its body.
 * Limits (SPEC §5): request line plus headers over FD_HTTP_HEAD_MAX → 431,
 * a body over the parser's body limit (--max-request) → 413 (as soon as a
 * Content-Length announces it, or as soon as chunks exceed it), anything
 * llhttp rejects → 400. After an error the connection must be answered and
 * closed: the framing is lost.
 *
 * The parser knows nothing of sockets or of what the requests mean: the
 * transport feeds it, the HTTP door routes what it returns. llhttp's C
 * sources come from Debian's node-llhttp and are compiled at build time.
 *
 * Ownership: the parser owns copies of the request target, the headers it
 * keeps and the body; fd_http_request's pointers into them stay valid until
 * the next fd_http_parser_next(), fd_http_parser_feed() or
 * fd_http_parser_free(). The response writers append to a caller's fd_buf.
 */
#ifndef FD_HTTP1_H
#define FD_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Request line plus header bytes accepted (SPEC §5: over 16 KiB → 431). */
#define FD_HTTP_HEAD_MAX (16 * 1024)

/* Credentials a request may carry (SPEC §1: --http-token). */
enum { FD_HTTP_CRED_BEARER = 0, FD_HTTP_CRED_API_KEY, FD_HTTP_CRED_APIM_KEY, FD_HTTP_NCREDS };

typedef enum fd_http_method {
    FD_HTTP_OTHER = 0,
    FD_HTTP_GET,
    FD_HTTP_HEAD,
    FD_HTTP_POST,
} fd_http_method;

typedef struct fd_http_request {
    fd_http_method method;
    const char *method_name; /* as llhttp names it ("PUT", …) */
    const char *path;        /* the target up to '?' (not NUL-terminated) */
    size_t path_len;
    const char *query; /* the target after '?' ("" without one; not NUL-terminated) */
    size_t query_len;
    const char *body; /* the whole body, chunked or not; NUL-terminated */
    size_t body_len;
    /* Each credential header's value (Bearer: the token after "Bearer "),
     * NULL when absent. Not NUL-terminated. */
    const char *cred[FD_HTTP_NCREDS];
    size_t cred_len[FD_HTTP_NCREDS];
    bool auth_other;  /* an Authorization header of another scheme */
    const char *auth; /* the Authorization header's whole value, or NULL */
    size_t auth_len;
    bool keep_alive;       /* the connection may carry another request */
    uint8_t version_minor; /* HTTP/1.x */
} fd_http_request;

typedef enum fd_http_event {
    FD_HTTP_MORE = 0, /* every byte given was consumed; no complete request */
    FD_HTTP_REQUEST,  /* fd_http_parser_request() is complete */
    FD_HTTP_CONTINUE, /* the client waits for "100 Continue" before its body */
    FD_HTTP_ERROR,    /* fd_http_parser_error(): answer it, then close */
} fd_http_event;

typedef struct fd_http_parser fd_http_parser;

/* A parser for requests whose bodies may have up to BODY_MAX bytes.
 * NULL when out of memory. */
fd_http_parser *fd_http_parser_new(size_t body_max);
void fd_http_parser_free(fd_http_parser *p);

/*
 * Parse up to LEN bytes of DATA; *USED tells how many were consumed. Stops
 * right after a complete request (FD_HTTP_REQUEST: the rest is the next
 * request's; call fd_http_parser_next() before feeding it), when the
 * client waits for 100-continue (feed the rest after answering), or at an
 * error. After FD_HTTP_ERROR every later feed returns the same error.
 */
fd_http_event fd_http_parser_feed(fd_http_parser *p, const char *data, size_t len, size_t *used);

/* The complete request after FD_HTTP_REQUEST. */
const fd_http_request *fd_http_parser_request(const fd_http_parser *p);

/* Forget the request just handled; the next feed starts the next one. */
void fd_http_parser_next(fd_http_parser *p);

/* Bytes of an unfinished request have been received (for the deadline on
 * slow clients): between its first byte and its end. */
bool fd_http_parser_busy(const fd_http_parser *p);

/* After FD_HTTP_ERROR: the status (400, 413, 431, 505), the SPEC §2 error
 * code ("bad_request", "too_large") and a message (static strings). */
int fd_http_parser_error(const fd_http_parser *p, const char **code, const char **message);

/* ---- responses ---- */

/* The reason phrase of STATUS ("OK", "Not Found", …). */
const char *fd_http_reason(int status);

/*
 * Start a response: status line, Content-Type CTYPE, Connection: close when
 * CLOSE, EXTRA (complete header lines ending in CRLF, or NULL), and room for
 * Content-Length. Write the body into OUT after it, then call
 * fd_http_end() with the returned mark.
 */
size_t fd_http_begin(fd_buf *out, int status, const char *ctype, bool close, const char *extra);

/* Finish the response started at MARK: fill in Content-Length; with
 * NO_BODY (a HEAD request) drop the body but keep its length. */
void fd_http_end(fd_buf *out, size_t mark, bool no_body);

/* A complete JSON error response {"error":{"code":CODE,"message":MSG}}. */
void fd_http_error(fd_buf *out, int status, const char *code, const char *msg, bool close,
                   const char *extra, bool no_body);

/* The interim response to Expect: 100-continue. */
void fd_http_continue(fd_buf *out);

#endif
