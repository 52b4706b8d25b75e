/*
 * audit.h — the service's audit writer (SPEC §4), internal to the service:
 * a record in, a ticket out.
 *
 * Path of a record:
 *  1. fd_svc_audit_record() runs on the calling thread: it formats the
 *     record (no I/O; one reused digest context per thread) into the
 *     thread's current batch and appends a ticket {cb, arg}.
 *  2. fd_svc_audit_flush(), once per loop iteration, hands the batch to the
 *     writer thread (a queue under a mutex held for a pointer swap: once
 *     per iteration, not per request).
 *  3. The writer thread takes every queued batch of every thread, writes
 *     them as one chain segment (the engine's fd_auditlog_commit: one
 *     write(2), and fdatasync in `always` mode; `interval` syncs once a
 *     second from this thread too), and hands each batch back to its
 *     thread through that thread's uv_async.
 *  4. On the thread's loop, every ticket of the batch runs in order with
 *     the batch's status: 0 or FD_SVC_EAUDIT.
 * Tickets of one thread therefore complete in the order they were taken.
 * A barrier (fd_svc_audit_barrier) is a ticket without a record: it runs
 * after every record queued before it has been written or has failed.
 *
 * What is recorded: see fd_svc_rec and docs/architecture.md. Without
 * --audit nothing is recorded and every call returns 0 at once.
 *
 * Errors: a failed write is logged once per incident, its end once; counts
 * are in `stats` under "audit".
 *
 * Threads: fd_svc_audit_{record,barrier,flush} run on the owning thread;
 * open/close/reopen on the main thread; the writer is its own thread.
 */
#ifndef FD_SVC_AUDIT_H
#define FD_SVC_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "service.h"

typedef struct fd_svc_audit fd_svc_audit;

/* One record (borrowed for the call; the record is formatted at once). */
typedef struct fd_svc_rec {
    const char *op; /* "check" | "stream" */
    int api;        /* fd_svc_api */
    const char *id_json;
    size_t id_len;
    const char *stream; /* NULL: not a stream record */
    size_t stream_len;
    const char *end; /* streams: "block" | "close" | "disconnect" | "timeout" | "error" */
    fd_action decision;
    const fd_match *matches; /* only those that count are recorded */
    size_t nmatches;
    uint64_t dropped;
    const char *text; /* checks: the whole text (excerpts, --audit-text full) */
    size_t len;
    const char *excerpts; /* streams: excerpt of match i = excerpts[exoff[i] .. exoff[i+1]) */
    const uint32_t *exoff;
    const char *sha256; /* streams: hex digest; checks: NULL (computed here) */
    uint64_t bytes;
    const fd_ruleset *rs;
    const char *meta; /* JSON text or NULL */
    const struct ucred *peer;
    const char *addr; /* a network peer's address (then `peer` is {"addr":…}), or NULL */
    uint64_t us;
} fd_svc_rec;

/* Whether --audit-level records decision D (0 without --audit). */
bool fd_svc_audit_wants(const fd_service *svc, fd_action d);

/*
 * Queue record R of thread T. Returns FD_SVC_PENDING (CB, if not NULL,
 * will run with the outcome), 0 (not recorded at this --audit-level; CB
 * will not run) or FD_ENOMEM (nothing queued).
 */
int fd_svc_audit_record(fd_svc_thread *t, const fd_svc_rec *r, fd_svc_done_fn cb, void *arg);

/* Queue a barrier: CB runs once every record T queued before it is done.
 * FD_SVC_PENDING or FD_ENOMEM. Without --audit, never call it. */
int fd_svc_audit_barrier(fd_svc_thread *t, fd_svc_done_fn cb, void *arg);

void fd_svc_audit_flush(fd_svc_thread *t);
bool fd_svc_audit_busy(const fd_svc_thread *t);

int fd_svc_audit_open(fd_service *svc);
void fd_svc_audit_close(fd_service *svc);
void fd_svc_audit_reopen(fd_service *svc);
int fd_svc_audit_thread_init(fd_svc_thread *t);
void fd_svc_audit_thread_close(fd_svc_thread *t);
void fd_svc_audit_thread_free(fd_svc_thread *t);
void fd_svc_audit_stats(fd_service *svc, fd_stats_extra *x);

#endif
