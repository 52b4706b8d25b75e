/*
 * auditlog.h — the tamper-evident audit log (SPEC §4): one hash chain of
 * JSON lines across all worker threads, written before any response that
 * depends on it, and the tools that verify and summarise such files.
 *
 * A line is {"ts":…,"seq":N,<body>,"prev":"<sha256 of the previous line>"}.
 * The caller builds the "ts" and body parts (JSON members, no braces); the
 * log assigns seq and prev when the record joins the chain, because only
 * then is the previous line known.
 *
 * Threads: fd_auditlog_commit() may be called from any thread. Batches
 * that arrive while another thread is writing are combined into that
 * thread's next write(2), so under load many workers' records share one
 * system call. A batch is all or nothing: if its write fails (disk full,
 * I/O error) the file is cut back to where it was and the chain does not
 * advance; the caller must then answer `audit_failed`.
 *
 * Ownership: the log owns its file descriptor and chain state; batches
 * belong to the caller, are reusable, and are freed with
 * fd_audit_batch_free().
 */
#ifndef FD_AUDITLOG_H
#define FD_AUDITLOG_H

#include <stddef.h>
#include <stdint.h>

#include "fd_error.h"

typedef enum fd_audit_fsync {
    FD_AUDIT_FSYNC_NEVER = 0,
    FD_AUDIT_FSYNC_INTERVAL = 1, /* the caller calls fd_auditlog_sync() every second */
    FD_AUDIT_FSYNC_ALWAYS = 2,   /* fdatasync after every write, before commit returns */
} fd_audit_fsync;

typedef struct fd_auditlog fd_auditlog;

typedef struct fd_audit_batch {
    char *buf; /* the records' parts, back to back */
    size_t len, cap;
    size_t *rec; /* per record: offset of its head in buf, then head and body lengths */
    size_t n, rcap;
    uint64_t first_seq; /* after a successful commit: seq of the first record */
} fd_audit_batch;

void fd_audit_batch_init(fd_audit_batch *b);
void fd_audit_batch_free(fd_audit_batch *b);
void fd_audit_batch_clear(fd_audit_batch *b);
/* Append a record: HEAD is `"ts":"…"` and BODY the members after seq
 * (`"op":"check",…,"us":12`). Returns 0 or FD_ENOMEM. */
int fd_audit_batch_add(fd_audit_batch *b, const char *head, size_t hl, const char *body, size_t bl);

/*
 * Open PATH for appending ("-": standard output, no chain recovery). An
 * existing file's chain is continued from its last complete line; a torn
 * last line (a crash in the middle of a write) is moved to PATH.torn and
 * cut off, and a warning is added to WARN. Returns 0, FD_EIO (reasons in
 * WARN) or FD_ENOMEM.
 */
int fd_auditlog_open(const char *path, fd_audit_fsync mode, fd_auditlog **out, fd_diag *warn);

/* Reopen the file by its path (after logrotate moved it); the chain goes
 * on in the new file. Returns 0 or FD_EIO (the old file stays in use). */
int fd_auditlog_reopen(fd_auditlog *a, fd_diag *warn);

/* Write BATCH to the log as one chain segment. Returns 0 (written, and
 * synced in ALWAYS mode) or FD_EIO (nothing of it is in the log). */
int fd_auditlog_commit(fd_auditlog *a, fd_audit_batch *batch);

/* fdatasync the file (INTERVAL mode's timer). */
int fd_auditlog_sync(fd_auditlog *a);

void fd_auditlog_close(fd_auditlog *a);

typedef struct fd_auditlog_stats {
    uint64_t records; /* written since open */
    uint64_t writes;  /* write(2) calls that carried them */
    uint64_t errors;  /* failed commits */
    uint64_t next_seq;
} fd_auditlog_stats;

void fd_auditlog_get_stats(fd_auditlog *a, fd_auditlog_stats *st);

/* ---- reading audit files (filterctl audit verify | stats) ---- */

/*
 * Verify files that form one chain, in order: every line is a JSON object,
 * seq strictly increases, and prev is the SHA-256 of the previous line (64
 * zeros at the start of a new chain). Stops at the first bad line and
 * describes it in DIAG as "FILE:LINE: message". Sets *lines to the number
 * of good lines. Returns 0 (all good), FD_ERULES (a bad line) or FD_EIO.
 */
int fd_audit_verify(const char *const *paths, size_t n, fd_diag *diag, uint64_t *lines);

#endif
