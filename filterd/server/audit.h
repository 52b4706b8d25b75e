/*
 * audit.h — the daemon's audit log (SPEC §4): one record per audited
 * decision, written to the engine's hash-chained log (auditlog.h) before
 * the response that gives the decision leaves the daemon.
 *
 * The request path, per worker loop iteration:
 *  - fd_audit_decision() (a check) or fd_audit_stream() (a stream that
 *    ends) is called on the worker thread after the scan and before the
 *    response is appended to the connection's output. It formats the
 *    record into the worker's batch (no I/O) and remembers where the
 *    response will be (connection, offset of its '{' in c->out). A
 *    negative return means the record could not even be queued (out of
 *    memory): the caller answers `audit_failed` itself.
 *  - fd_audit_commit() is called by the worker's flush step once per loop
 *    iteration, before any response of that iteration is handed to libuv.
 *    It writes the batch (the engine combines the batches of all workers
 *    that commit at the same moment into one write(2)) and returns 0. If
 *    the write fails it returns -1 after rewriting, in place in c->out,
 *    every response of the batch that depended on a record into
 *    {"id":…,"error":{"code":"audit_failed",…}}: no decision is given
 *    without its record (fail closed). Responses that needed no record
 *    (ping, errors, decisions below --audit-level) are left alone.
 *    Why rewriting works: responses of an iteration stay in c->out until
 *    the flush that follows the commit (conn.c swaps c->out only in
 *    fd_conn_flush), and c->out only grows in between, so the offset
 *    taken at decision time still points at that response's line.
 *
 * What is recorded:
 *  - `id` is the request's id as JSON (string or integer), or null when
 *    the request had none: every record has the same members.
 *  - `meta` is the request's meta object as the daemon parsed it,
 *    re-serialised compactly (same members, order and values; insignificant
 *    white space removed, string escapes normalised), or null.
 *  - --audit-level block|flag|all: decisions recorded (default flag: flag
 *    and block). --audit-text none|match|full: `excerpt` per match (match,
 *    the default), none, or excerpts plus `text`, the whole text (full).
 *  - Without --audit no log is written (a startup line says so) and every
 *    hook returns 0 at once.
 *
 * Errors: a failed write is logged once per incident (not per request),
 * its end ("writes work again") once; failed writes, records and write(2)
 * calls are in the `stats` op under "audit".
 *
 * Threads: fd_audit_decision/stream/commit run on the worker's own thread
 * and touch only its fd_audit_worker and the shared log (which locks). The
 * rest runs on the main thread.
 *
 * Ownership: inputs are borrowed for the duration of the call; records are
 * copied into the worker's batch. The server owns the fd_audit (srv->audit)
 * and each worker its fd_audit_worker (w->audit).
 */
#ifndef FD_AUDIT_H
#define FD_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "scan.h"
#include "stats.h"
#include "worker.h"

/* A check's decision (op "check"). */
typedef struct fd_audit_input {
    const char *op;      /* "check" */
    const char *id_json; /* the request's id as JSON text (the value only), or NULL */
    size_t id_len;
    const char *text; /* the scanned text */
    size_t len;
    const fd_result *res; /* the decision and matches (the worker's rule set, w->rs) */
    const char *meta;     /* the request's meta as JSON text (NUL-terminated), or NULL */
    const struct ucred *peer;
    unsigned long long us;
    /* Where the response giving this decision will be written: it starts
     * at conn->out.data[resp_off] with '{' and, when the request had an
     * id, '"id":ID,'. Set conn to NULL for a record no response waits on. */
    fd_conn *conn;
    size_t resp_off;
} fd_audit_input;

/*
 * A stream's record (op "stream", SPEC §4): written once per stream, when
 * it blocks, when it is closed, or when its connection ends with the
 * stream still open (end "disconnect").
 *
 * The record has the members of a check record plus `stream` and `end`;
 * `sha256` and `bytes` describe the whole stream text, which the daemon
 * does not keep: the stream keeps a running SHA-256 (hash.h:
 * fd_sha256_init at open, fd_sha256_update per chunk, fd_sha256_final at
 * the end) and a byte count, and passes their results here.
 */
typedef struct fd_audit_stream_input {
    const char *id_json; /* id of the request whose response gives the decision
                          * (the chunk that blocked, the close), or NULL */
    size_t id_len;
    const char *stream; /* the stream's id, raw (escaped here) */
    size_t stream_len;
    const char *end;         /* "block" | "close" | "disconnect" (also "timeout", "error") */
    fd_action decision;      /* the stream's final decision */
    const fd_match *matches; /* every match of the stream so far (offsets from the
                              * stream's start); allow and suppressed ones are skipped */
    size_t nmatches;
    uint64_t dropped;      /* matches not recorded by the scanner, or 0 */
    const char *excerpts;  /* the matched bytes of match i are excerpts[exoff[i] ..
                            * exoff[i+1]); an empty one ("no longer at hand") and
                            * excerpts == NULL leave "excerpt" out */
    const uint32_t *exoff; /* nmatches + 1 offsets, or NULL */
    const fd_ruleset *rs;  /* the rule set the stream was scanned with; NULL: w->rs */
    const char *sha256;    /* 64 lowercase hex digits: SHA-256 of the whole stream */
    uint64_t bytes;        /* its length */
    const char *text;      /* --audit-text full: the whole text if the caller has it,
                            * else NULL ("text" is then left out) */
    size_t len;
    const char *meta; /* the open request's meta (JSON text), or NULL */
    const struct ucred *peer;
    uint64_t us;   /* server time of the request that ended it, µs */
    fd_conn *conn; /* as in fd_audit_input; NULL for "disconnect" */
    size_t resp_off;
} fd_audit_stream_input;

/*
 * Queue the record of a check's decision in W's batch, if --audit-level
 * wants it. Returns 0 (queued, or not audited) or -1 (out of memory: the
 * caller answers audit_failed).
 */
int fd_audit_decision(fd_worker *w, const fd_audit_input *in);

/*
 * Queue a stream's record (see fd_audit_stream_input). Same return as
 * fd_audit_decision. Call it where the stream ends on the worker's thread;
 * for "disconnect", from fd_conn_close() (not from the libuv close
 * callback), so that the record goes out with this iteration's batch.
 */
int fd_audit_stream(fd_worker *w, const fd_audit_stream_input *in);

/*
 * Write W's batch of this iteration (see the top of this file). Returns 0,
 * or -1 after turning the dependent responses into audit_failed.
 */
int fd_audit_commit(fd_worker *w);

/*
 * On W's thread after its loop has ended: write the records queued after
 * the last flush (streams ended by a connection's close callback). No
 * response waits for them any more: the connections are gone.
 */
void fd_audit_finish(fd_worker *w);

/* ---- lifecycle (main thread) ---- */

/*
 * Open the audit log of srv->cfg (continuing an existing file's chain; a
 * torn last line is set aside with a warning), or log that auditing is
 * off. Call before the socket exists. Returns 0, or -1 after logging why
 * (the daemon must not start).
 */
int fd_audit_open(fd_server *srv);

/* Start the once-a-second fdatasync timer on the main loop
 * (--audit-fsync interval). Does not keep the loop alive. */
void fd_audit_start(fd_server *srv);

/* SIGUSR1: reopen the file by its path (after logrotate moved it). */
void fd_audit_reopen(fd_server *srv);

/* After the workers have stopped: sync and close the log, release
 * everything (the timer's close completes on the main loop's next run). */
void fd_audit_close(fd_server *srv);

/* Per worker, on the main thread before the worker runs / after it ended.
 * fd_audit_worker_init returns 0 or -1 (out of memory). */
int fd_audit_worker_init(fd_worker *w);
void fd_audit_worker_free(fd_worker *w);

/* Fill the audit part of a `stats` reply. */
void fd_audit_stats(fd_server *srv, fd_stats_extra *x);

#endif
