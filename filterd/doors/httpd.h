/*
 * httpd.h — the HTTP door (SPEC §5): HTTP/1.1 requests in, responses out,
 * in request order, translated to and from the service (service.h). Like
 * the NDJSON door it knows nothing of sockets: the transport hands it the
 * bytes a client sent and takes the bytes it says are ready. Framing is
 * http1.h's; routing, access control and the JSON bodies are here.
 *
 * Endpoints: POST /v1/check, POST /v1/moderations (OpenAI, openai.h),
 * GET /healthz, /readyz, /metrics (metrics.h), /v1/version, /v1/stats,
 * POST /v1/reload. HEAD works wherever GET does. A known path with another
 * method gets 405 with Allow, an unknown path 404.
 *
 * Access. On the Unix socket the peer's credentials decide, as for NDJSON:
 * reload is for root, the daemon's uid and --admin-uid. On a TCP listener
 * every request must carry the --http-token (or the --admin-token) as
 * `Authorization: Bearer T`, `api-key: T` or `Ocp-Apim-Subscription-Key: T`
 * when one is configured (else 401); reload needs the --admin-token and is
 * refused (403) without one configured. Tokens are compared in constant
 * time.
 *
 * Audit before answer: a response whose decision waits for its audit
 * record (the service returned FD_SVC_PENDING, once per moderated input)
 * is written at once but kept back, and nothing after it is ready, until
 * its tickets come back; a failed record turns the whole response, in
 * place, into 503 audit_failed.
 *
 * Ownership: the transport embeds an fd_httpd per connection and must not
 * free it before ops->release ran (see fd_httpd_close). Tokens in the
 * access description are borrowed for the session's life.
 */
#ifndef FD_HTTPD_H
#define FD_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "http1.h"
#include "service.h"

typedef struct fd_httpd fd_httpd;

/* What the door needs from its transport; called on the session's thread,
 * never from inside fd_httpd_feed(). */
typedef struct fd_httpd_ops {
    /* More output became ready, or a deferred reload was answered and the
     * session takes requests again. */
    void (*wake)(fd_httpd *s);
    /* The session was closed and its last outstanding callback has come
     * back: the transport may free it now. */
    void (*release)(fd_httpd *s);
} fd_httpd_ops;

/* How a session was reached. */
typedef struct fd_httpd_access {
    bool tcp;          /* a --http listener: tokens apply, no peer credentials */
    const char *token; /* --http-token's value, or NULL */
    size_t token_len;
    const char *admin; /* --admin-token's value, or NULL */
    size_t admin_len;
} fd_httpd_access;

typedef struct fd_httpd_wait {
    size_t off, len;  /* the response in out */
    unsigned tickets; /* records still on their way */
    bool failed;      /* one of them failed */
    bool final;       /* already an error response: nothing to turn */
} fd_httpd_wait;

/* Above this many bytes of unsent output the door takes no more requests
 * (the transport stops reading until it has written). */
#define FD_HTTPD_OUT_HIGH (1024 * 1024)

struct fd_httpd {
    fd_svc_thread *t;
    fd_svc_owner owner; /* peer and api for the audit record (no streams over HTTP) */
    const fd_httpd_ops *ops;
    fd_httpd_access access;
    fd_http_parser *p;
    fd_buf out;          /* responses: [0, fd_httpd_ready()) may be sent */
    fd_httpd_wait *wait; /* responses waiting for their records, oldest first */
    size_t whead, nwait, capwait;
    unsigned refs;    /* callbacks the service still owes us */
    bool reload_head; /* the deferred reload was a HEAD request */
    bool reload_close;
    fd_svc_reload_req reload;
    uint64_t nreq; /* requests handled so far */
    bool waiting;  /* a reload is pending: take no request until it is answered */
    bool done;     /* the last response has been written: close after sending */
    bool closed;
};

/*
 * Set up S on thread T: reached as ACCESS says (copied; its tokens are
 * borrowed), by a peer with credentials PEER (NULL: unknown, e.g. TCP);
 * BODY_MAX is --max-request; SERIAL names it in logs. 0, or FD_ENOMEM.
 */
int fd_httpd_init(fd_httpd *s, fd_svc_thread *t, const fd_httpd_ops *ops,
                  const fd_httpd_access *access, const struct ucred *peer, size_t body_max,
                  uint64_t serial);

/*
 * Handle the bytes DATA[0, LEN) a client sent: every complete request among
 * them is answered into s->out. Returns how many bytes were taken; it
 * stops early (the rest is the caller's to feed again later) while a
 * reload is pending, above FD_HTTPD_OUT_HIGH unsent bytes, or when the
 * session is done (s->done: a response with Connection: close was the
 * last; the transport closes once it is sent).
 */
size_t fd_httpd_feed(fd_httpd *s, const char *data, size_t len);

/* The client sent part of a request and not the rest yet (for the
 * transport's deadline on slow clients). */
bool fd_httpd_busy(const fd_httpd *s);

/* Bytes at the start of s->out that may be sent now. */
size_t fd_httpd_ready(const fd_httpd *s);

/* Move the ready bytes into DST (empty; its buffer is reused). */
void fd_httpd_take(fd_httpd *s, fd_buf *dst);

/* Answer a session the transport must refuse (over --max-connections,
 * shutting down): one 503 busy with Connection: close. */
void fd_httpd_refuse(fd_httpd *s, const char *message);

/*
 * No more requests: forget a pending reload. Returns true when S may be
 * freed at once, false when ops->release will say so later.
 */
bool fd_httpd_close(fd_httpd *s);

/* Free S's buffers and parser (after fd_httpd_close allowed it). */
void fd_httpd_free(fd_httpd *s);

/* Whether A (ALEN bytes) equals B (BLEN bytes), in time that depends only
 * on the lengths. */
bool fd_httpd_token_eq(const char *a, size_t alen, const char *b, size_t blen);

#endif
