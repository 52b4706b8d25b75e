/*
 * proto.h — the request/response protocol of SPEC §2: one JSON object per
 * line in, one per line out.
 *
 * Requests are parsed with cJSON; responses are written directly into the
 * connection's output buffer (buf.h), never printed from a cJSON tree.
 *
 * Each response starts with the request's `id` when it had a valid one
 * (a string, or an integer of magnitude below 2^53, echoed with its JSON
 * type). Every op is one row of the op table in proto.c: its name, whether
 * it is a control op (root, the daemon's uid and --admin-uid only: others
 * get `forbidden`), and its handler. The stream ops (open/chunk/close)
 * keep their per-connection state in streams.h.
 *
 * Ownership: nothing here keeps a pointer to the request line after
 * returning.
 */
#ifndef FD_PROTO_H
#define FD_PROTO_H

#include <stddef.h>

#include "worker.h"

/* Op ids: indices of the op table and of the per-op request counters. */
enum {
    FD_OP_CHECK = 0,
    FD_OP_PING,
    FD_OP_VERSION,
    FD_OP_STATS,
    FD_OP_RELOAD,
    FD_OP_OPEN,
    FD_OP_CHUNK,
    FD_OP_CLOSE,
    FD_OP_COUNT
};

/* Error codes of SPEC §2 (0 = no error). */
typedef enum fd_perr {
    FD_PERR_NONE = 0,
    FD_PERR_BAD_JSON,
    FD_PERR_BAD_REQUEST,
    FD_PERR_BAD_UTF8,
    FD_PERR_TOO_LARGE,
    FD_PERR_UNKNOWN_OP,
    FD_PERR_UNKNOWN_STREAM,
    FD_PERR_STREAM_EXISTS,
    FD_PERR_STREAM_BLOCKED,
    FD_PERR_TOO_MANY_STREAMS,
    FD_PERR_FORBIDDEN,
    FD_PERR_BUSY,
    FD_PERR_BAD_RULES,
    FD_PERR_AUDIT_FAILED,
    FD_PERR_INTERNAL,
    FD_PERR_COUNT
} fd_perr;

/* Largest serialized `meta` object accepted (SPEC §2). */
#define FD_META_MAX 4096

const char *fd_proto_op_name(int op);
const char *fd_proto_error_name(int code);

/*
 * Handle one request LINE (LEN bytes, no '\n') received on C. Appends
 * exactly one response line to c->out, or — for an op that completes later
 * (reload) — sets c->waiting and appends nothing; the op's completion
 * appends the response and calls fd_conn_resume().
 */
void fd_proto_handle(fd_conn *c, const char *line, size_t len);

/* Append an error response without an id (framing errors: too_large, busy). */
void fd_proto_error_noid(fd_conn *c, fd_perr code, const char *message);

/* Append the deferred response of C's pending reload from result R
 * (R == NULL: the daemon is stopping) and resume the connection. */
void fd_proto_reload_done(fd_conn *c, const fd_reload_result *r);

#endif
