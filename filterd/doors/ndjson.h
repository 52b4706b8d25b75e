/*
 * ndjson.h — the NDJSON door (SPEC §2): one JSON object per line in, one
 * per line out, in request order, translated to and from the service
 * (service.h). It knows nothing of sockets: the transport hands it request
 * lines (framing, limits and back-pressure are the transport's) and takes
 * the bytes it says are ready.
 *
 * Requests are parsed with cJSON; responses are written straight into the
 * session's output buffer (buf.h), never printed from a cJSON tree. Each
 * response starts with the request's `id` when it had a valid one (a
 * string, or an integer of magnitude below 2^53, echoed with its JSON
 * type). Every op is one row of the op table in ndjson.c: its name,
 * whether it is an admin op (root, the daemon's uid and --admin-uid only:
 * others get `forbidden`), and its handler.
 *
 * Audit before answer: a response whose decision waits for its audit
 * record (the service returned FD_SVC_PENDING) is written at once but kept
 * back: fd_ndjson_ready() never covers it, nor anything after it, until
 * its ticket comes back; a failed record turns it, in place, into
 * {"id":…,"error":{"code":"audit_failed",…}}. So responses leave in request
 * order and no decision leaves without its record.
 *
 * Ownership: the transport embeds an fd_ndjson per connection, and must
 * not free it before ops->release ran (outstanding tickets and reload
 * answers hold it; see fd_ndjson_close). Nothing keeps a pointer to a
 * request line after fd_ndjson_line() returns.
 */
#ifndef FD_NDJSON_H
#define FD_NDJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "service.h"

typedef struct fd_ndjson fd_ndjson;

/* What the door needs from its transport; called on the session's thread,
 * never from inside fd_ndjson_line(). */
typedef struct fd_ndjson_ops {
    /* More output became ready, or a deferred op (reload) was answered and
     * the session takes requests again. */
    void (*wake)(fd_ndjson *s);
    /* The session was closed and its last outstanding callback has come
     * back: the transport may free it now. */
    void (*release)(fd_ndjson *s);
} fd_ndjson_ops;

typedef struct fd_ndjson_wait {
    size_t off;   /* the response's '{' in out */
    size_t idlen; /* length of '"id":ID,' after the '{' (0: no id) */
} fd_ndjson_wait;

struct fd_ndjson {
    fd_svc_thread *t;
    fd_svc_owner owner; /* our streams, peer and api */
    const fd_ndjson_ops *ops;
    fd_buf out;           /* responses: [0, fd_ndjson_ready()) may be sent */
    fd_ndjson_wait *wait; /* responses waiting for their record, oldest first */
    size_t whead, nwait, capwait;
    unsigned refs;   /* callbacks the service still owes us */
    fd_buf defer_id; /* '"id":X,' of the deferred reload, or empty */
    fd_svc_reload_req reload;
    bool waiting; /* a reload is pending: take no request until it is answered */
    bool closed;
};

/* Set up S on thread T for a peer with credentials PEER (NULL: unknown);
 * SERIAL names it in logs. */
void fd_ndjson_init(fd_ndjson *s, fd_svc_thread *t, const fd_ndjson_ops *ops,
                    const struct ucred *peer, uint64_t serial);

/*
 * Handle one request LINE (LEN bytes, without '\n'). Appends exactly one
 * response line to s->out, or — for an op that completes later (reload) —
 * sets s->waiting and appends nothing yet: ops->wake follows the answer.
 */
void fd_ndjson_line(fd_ndjson *s, const char *line, size_t len);

/* Append an error response without an id (framing errors of the
 * transport: too_large, busy). ERR is a codes.h code. */
void fd_ndjson_error_noid(fd_ndjson *s, int err, const char *message);

/* Bytes at the start of s->out that may be sent now. */
size_t fd_ndjson_ready(const fd_ndjson *s);

/* Move the ready bytes into DST (empty; its buffer is reused). */
void fd_ndjson_take(fd_ndjson *s, fd_buf *dst);

/*
 * No more requests: end the streams (audited "disconnect"), forget a
 * pending reload. Returns true when S may be freed at once, false when
 * ops->release will say so later.
 */
bool fd_ndjson_close(fd_ndjson *s);

/* Free S's buffers (after fd_ndjson_close allowed it). */
void fd_ndjson_free(fd_ndjson *s);

#endif
