/*
 * audit.h — the audit hook of the request path (SPEC §4). The audit log
 * itself is a later piece of work; this header fixes where it plugs in.
 *
 * Contract, so the later implementation needs no change to the request
 * path:
 *  - fd_audit_decision() is called once per audited decision on the
 *    worker thread, after the scan and before the response is appended to
 *    the connection's output. It appends the record to the worker's batch
 *    for this loop iteration (no I/O). A negative return means the record
 *    could not even be queued: the request is answered `audit_failed`.
 *  - fd_audit_commit() is called by the worker's flush step once per loop
 *    iteration, before any response of that iteration is handed to libuv:
 *    it writes the batch (one write(2)) and returns 0, or a negative error
 *    after which the worker answers nothing of that iteration that needed a
 *    record — the later implementation will turn those responses into
 *    `audit_failed` (it owns the mapping from batch entries to responses).
 *
 * For now both are no-ops: no audit log is written, --audit* are parsed only.
 *
 * Ownership: fd_audit_input only borrows (the request's buffers, valid for
 * the duration of the call); the implementation copies what it batches.
 */
#ifndef FD_AUDIT_H
#define FD_AUDIT_H

#include <stddef.h>

#include "scan.h"
#include "worker.h"

typedef struct fd_audit_input {
    const char *op;       /* "check" | "stream" */
    const char *id_json;  /* the id as JSON text, or NULL */
    size_t id_len;
    const char *text;     /* the scanned text */
    size_t len;
    const fd_result *res; /* the decision and matches */
    const char *meta;     /* the request's meta as JSON text, or NULL */
    const struct ucred *peer;
    unsigned long long us;
} fd_audit_input;

static inline int fd_audit_decision(fd_worker *w, const fd_audit_input *in)
{
    (void)w;
    (void)in;
    return 0;
}

static inline int fd_audit_commit(fd_worker *w)
{
    (void)w;
    return 0;
}

#endif
