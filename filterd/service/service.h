/*
 * service.h — the one core of the daemon, below every door: check,
 * streams, admin (version, stats, reload) and the audit writer.
 *
 * Layering: transport (filterd/server) -> door (filterd/doors) -> service
 * (this directory) -> engine. Nothing here knows a connection, a socket or
 * a wire format; a door translates its requests into these calls and the
 * answers back. Calls come back up only through the callbacks and hooks
 * given here, never by including a higher layer's header.
 *
 * Threads. One fd_service per daemon; one fd_svc_thread per worker thread
 * (its own libuv loop, rule-set reference, Hyperscan scratch, result
 * buffer and counters). Every fd_svc_* call taking an fd_svc_thread runs
 * on that thread; nothing on the request path takes a lock.
 *
 * Audit before answer (SPEC §4). A call that gives a decision which must be
 * recorded returns FD_SVC_PENDING: the decision is already in the output
 * arguments, but the door must not let it leave until the callback given
 * with the call has run with status 0. Status FD_SVC_EAUDIT means the record
 * could not be written: the door answers `audit_failed` instead (fail
 * closed). Records are formatted on the calling thread, collected per loop
 * iteration, and written by the audit writer thread (one write(2) for all
 * threads' batches); the callbacks run on the calling thread's loop, in the
 * order of the calls that returned FD_SVC_PENDING, through a uv_async. No
 * worker ever waits for the file.
 *
 * Errors: see codes.h. Ownership is stated at each call.
 */
#ifndef FD_SERVICE_H
#define FD_SERVICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "buf.h"
#include "codes.h"
#include "config.h"
#include "ruleset.h"
#include "scan.h"
#include "stats.h"

typedef struct fd_service fd_service;
typedef struct fd_svc_thread fd_svc_thread;
typedef struct fd_svc_stream fd_svc_stream;

/* Largest serialized `meta` object accepted (SPEC §2). */
#define FD_META_MAX 4096
/* Longest stream id, bytes. */
#define FD_STREAM_ID_MAX 256

/* A completion: STATUS is 0 (the record is written: give the decision) or
 * FD_SVC_EAUDIT (answer audit_failed). Runs on the caller's thread. */
typedef void (*fd_svc_done_fn)(void *arg, int status);

/* Whether match M counts for the decision and the answer (SPEC §2: block
 * and flag matches not suppressed by an allow span). */
static inline bool fd_svc_counts(const fd_match *m)
{
    return m->action != FD_ALLOW && !m->suppressed;
}

/* ---- the daemon-wide service -------------------------------------------- */

/*
 * The outcome of one reload, handed by the transport's reload runner to
 * every thread (fd_svc_thread_reload). Reference-counted: one reference
 * per thread it was given to. It answers every reload request whose
 * generation is <= gen (made before this reload started reading files).
 */
typedef struct fd_reload_result {
    atomic_int refs;
    uint64_t gen;
    int status;     /* 0, FD_SVC_EBAD_RULES (errors) or FD_SVC_EINTERNAL (no memory) */
    fd_ruleset *rs; /* the new rule set (a reference), NULL if the reload failed */
    char *errors;   /* "FILE:LINE: message" lines joined by '\n' when it failed */
    char version[65];
    size_t nrules;
} fd_reload_result;

void fd_reload_result_release(fd_reload_result *r);

/* What the service needs from the transport. */
typedef struct fd_svc_hooks {
    /* Start a reload (asynchronously, on the transport's main loop);
     * returns the request's generation. Called from any thread. */
    uint64_t (*request_reload)(void *arg);
    void *arg;
} fd_svc_hooks;

struct fd_service {
    const fd_config *cfg;
    fd_svc_hooks hooks;
    fd_svc_thread **threads; /* registered by fd_svc_thread_init, for stats */
    unsigned nthreads, maxthreads;
    struct fd_svc_audit *audit;       /* NULL without --audit */
    struct fd_svc_sessions *sessions; /* pieces checked as one text (sessions.c) */
    uint64_t start_ms;
    /* reloads, for stats (written by the reload runner's thread) */
    _Atomic uint64_t reloads_ok, reloads_failed;
    _Atomic uint64_t last_reload_at; /* unix seconds, 0: none yet */
    atomic_int last_reload_ok;
    _Atomic uint64_t last_reload_us;
    atomic_int last_reload_cached;
};

/*
 * Set up SVC for CFG (borrowed for SVC's lifetime) with room for
 * MAXTHREADS threads: opens the audit log (continuing its chain) and starts
 * its writer thread, or logs that auditing is off. Returns 0, or a
 * negative code after logging why (the daemon must not start).
 */
int fd_service_init(fd_service *svc, const fd_config *cfg, unsigned maxthreads,
                    const fd_svc_hooks *hooks);

/* After every fd_svc_thread is freed: stop the writer (everything queued
 * is written first), sync and close the log. */
void fd_service_fini(fd_service *svc);

/* SIGUSR1: reopen the audit log by its path (logrotate). */
void fd_service_reopen_audit(fd_service *svc);

/* The reload runner records a finished reload (for stats). */
void fd_service_note_reload(fd_service *svc, const fd_reload_result *r);

/* 1 if UID may use admin ops (reload): root, the daemon's uid, --admin-uid. */
int fd_svc_is_admin(const fd_service *svc, uid_t uid);

/* ---- per thread ---------------------------------------------------------- */

typedef struct fd_svc_reload_req fd_svc_reload_req;
/* A reload's answer: STATUS 0 (RES->rs is the new set), FD_SVC_EBAD_RULES
 * (MSG lists FILE:LINE errors; the old rules stay), FD_SVC_EBUSY or
 * FD_SVC_EINTERNAL (MSG says why: stopping, or this thread could not switch
 * to the new rules). */
typedef void (*fd_svc_reload_fn)(void *arg, int status, const fd_reload_result *res,
                                 const char *msg);
/* A waiting reload request: storage the caller provides (embeds). */
struct fd_svc_reload_req {
    fd_svc_reload_req *next;
    uint64_t gen;
    fd_svc_reload_fn cb;
    void *arg;
    bool waiting;
};

struct fd_svc_thread {
    fd_service *svc;
    unsigned idx;
    uv_loop_t *loop;
    fd_ruleset *rs; /* our reference to the rule set we scan with */
    fd_scratch *scratch;
    fd_result result;
    fd_stats stats;   /* read by other threads (relaxed) */
    fd_ruleset *hold; /* keeps the rule set of the last closed stream alive */
    /* sessions: the carry and the piece scanned together, and the piece's
     * matches and excerpts for its record (reused, never shrunk) */
    fd_buf sess_text, sess_matches, sess_excerpts, sess_exoff;
    fd_svc_reload_req *waiters;
    struct fd_svc_audit_thread *audit; /* NULL without --audit */
    /* Called on this thread after audit completions ran (the transport
     * checks whether a draining thread may finish now). */
    void (*on_complete)(void *arg);
    void *on_complete_arg;
    bool stopping;
};

/*
 * Set up T for SVC on LOOP (which runs on T's thread) with a reference to
 * RS. Call before the loop runs. Returns 0 or a negative code.
 */
int fd_svc_thread_init(fd_service *svc, fd_svc_thread *t, unsigned idx, uv_loop_t *loop,
                       fd_ruleset *rs);
/* End of each loop iteration: hand the records of this iteration to the
 * writer (call from a uv_check handle). */
void fd_svc_thread_flush(fd_svc_thread *t);
/* Whether records of T are still on their way (a draining thread must let
 * its loop run until they have come back). */
bool fd_svc_thread_busy(const fd_svc_thread *t);
/* Close T's libuv handles (when the thread drains and is done). */
void fd_svc_thread_close(fd_svc_thread *t);
/* After T's loop has ended: write what is left, free everything. */
void fd_svc_thread_free(fd_svc_thread *t);

/*
 * A reload finished: switch T to RES's rules (between two requests) and
 * answer T's reload requests that RES covers. If the scratch cannot grow
 * for the new rules, T keeps the old ones and its waiters are told so
 * (FD_SVC_EINTERNAL), never "ok".
 */
void fd_svc_thread_reload(fd_svc_thread *t, const fd_reload_result *res);
/* Stop: answer every waiting reload request "shutting down"; later reload
 * requests get FD_SVC_EBUSY. */
void fd_svc_thread_stop(fd_svc_thread *t);

/* ---- owners and streams -------------------------------------------------- */

/*
 * An owner: whoever a door says owns streams and records — an NDJSON
 * connection, an HTTP session, an Aliyun sessionId. The door embeds it and
 * initialises it; streams are keyed by (owner, stream id).
 */
typedef struct fd_svc_owner {
    fd_svc_stream **buckets;
    size_t nbuckets; /* 0 or a power of two */
    size_t n;        /* open streams */
    fd_svc_stream *lru_head, *lru_tail;
    struct ucred peer; /* uid (uid_t)-1 when unknown */
    /* A network peer ("127.0.0.1:5000", "[::1]:5000"; empty on the Unix
     * socket): the audit record's peer is then this address. */
    char addr[64];
    int api;         /* fd_svc_api */
    uint64_t serial; /* for logs */
} fd_svc_owner;

void fd_svc_owner_init(fd_svc_owner *o, int api, const struct ucred *peer, uint64_t serial);
/* End every stream of O with END ("disconnect"; audited), free the table. */
void fd_svc_owner_end(fd_svc_thread *t, fd_svc_owner *o, const char *end);
/* End O's streams without a chunk for TIMEOUT_MS ("timeout"). */
void fd_svc_owner_sweep(fd_svc_thread *t, fd_svc_owner *o, uint64_t timeout_ms);

/* The result of a chunk or close, valid until the next call on T. */
typedef struct fd_svc_stream_out {
    const fd_result *res; /* new matches (all, incl. allow/suppressed), decision so far */
    uint64_t release;
    const fd_ruleset *rs; /* names the matches' rules */
} fd_svc_stream_out;

/* A request's context, for its audit record and latency. */
typedef struct fd_svc_req {
    const char *id_json; /* the request's id as JSON text ('"x"' or '7'), or NULL */
    size_t id_len;
    uint64_t t0; /* uv_hrtime() when the request started */
    fd_svc_done_fn done;
    void *arg;
} fd_svc_req;

/*
 * Open stream ID (1..FD_STREAM_ID_MAX bytes) of O with T's rules; META is
 * `meta` as JSON text or NULL (copied). *VERSION: the stream's rule-set
 * version. Errors: ESTREAM_EXISTS, ETOO_MANY_STREAMS, EBAD_REQUEST, engine.
 */
int fd_svc_stream_open(fd_svc_thread *t, fd_svc_owner *o, const char *id, size_t idlen,
                       const char *meta, const char **version);
/*
 * Feed TEXT to stream ID of O. Returns 0 (answer now), FD_SVC_PENDING (the
 * chunk blocked: answer after RQ->done), or an error (EUNKNOWN_STREAM,
 * ESTREAM_BLOCKED, EBAD_UTF8 — nothing taken, the stream goes on —,
 * ETOO_LARGE, EINTERNAL — the stream is ended).
 */
int fd_svc_stream_chunk(fd_svc_thread *t, fd_svc_owner *o, const char *id, size_t idlen,
                        const char *text, size_t len, const fd_svc_req *rq, fd_svc_stream_out *out);
/*
 * Close stream ID of O: the final decision and the release point. Returns
 * 0, FD_SVC_PENDING (answer after RQ->done), FD_SVC_EAUDIT (the stream's
 * record failed: no decision), or an error. The stream is gone afterwards.
 */
int fd_svc_stream_close(fd_svc_thread *t, fd_svc_owner *o, const char *id, size_t idlen,
                        const fd_svc_req *rq, fd_svc_stream_out *out);

/* ---- check --------------------------------------------------------------- */

typedef struct fd_svc_check_out {
    const fd_result *res; /* T's result buffer: valid until the next call on T */
    const fd_ruleset *rs; /* names the matches' rules */
    uint64_t us;          /* server time so far */
} fd_svc_check_out;

/*
 * Check TEXT (LEN bytes) for OWNER (its peer and api go into the record);
 * META as JSON text or NULL. Returns 0 (answer now: not audited at this
 * --audit-level), FD_SVC_PENDING (answer after RQ->done), or an error
 * (EBAD_UTF8, ETOO_LARGE, EAUDIT, EINTERNAL).
 */
int fd_svc_check(fd_svc_thread *t, const fd_svc_owner *owner, const char *text, size_t len,
                 const char *meta, const fd_svc_req *rq, fd_svc_check_out *out);

/* Count a request of OP from API (and its error, if ERR < 0). */
void fd_svc_count(fd_svc_thread *t, int api, int op);
void fd_svc_count_error(fd_svc_thread *t, int err);
/* Count a finished check's latency (µs). */
void fd_svc_count_latency(fd_svc_thread *t, uint64_t us);

/* ---- sessions ------------------------------------------------------------ */

/*
 * A session: consecutive, non-overlapping pieces of one text checked one
 * request at a time, whatever connection or thread each arrives on (Aliyun
 * TextModerationPlus callers cut a long text into pieces with one
 * sessionId). The table is daemon-wide, under one mutex held only to look
 * a session up and to update it, never during a scan.
 *
 * Each piece is scanned after the session's carry: the last
 * FD_SESSION_CARRY bytes of the earlier pieces (cut on a character
 * boundary), so that a match split across pieces is found with the piece
 * it ends in; matches that end inside the carry were judged before and are
 * left out. A piece's decision is the worst of its own matches, and block
 * for every piece after a block of the session. A session ends
 * --idle-timeout seconds after its last piece (never with 0), or when the
 * table is full (FD_SESSION_MAX: the least recently used one goes).
 *
 * Each piece is one audited check (op "check", the owner's api): the
 * piece's text, digest and length, its matches with offsets into the piece
 * (a match that began in an earlier piece starts at 0; its excerpt is the
 * whole match), META as given (the door names the session there).
 */
#define FD_SESSION_CARRY   1024
#define FD_SESSION_MAX     65536
#define FD_SESSION_KEY_MAX 256

typedef struct fd_svc_session_out {
    const fd_result *res; /* this piece's counted matches, offsets into text; its decision */
    const fd_ruleset *rs; /* names the matches' rules */
    const char *text;     /* the scanned text: the carry, then the piece (T's buffer) */
    size_t len;
    size_t base;      /* where the piece starts in text */
    bool was_blocked; /* the session had blocked before this piece */
} fd_svc_session_out;

/*
 * Check PIECE (LEN bytes) as the next piece of session KEY (1..
 * FD_SESSION_KEY_MAX bytes) for OWNER. Returns as fd_svc_check(): 0,
 * FD_SVC_PENDING (answer after RQ->done), or an error (EBAD_REQUEST for a
 * bad key, EBAD_UTF8, ETOO_LARGE, EAUDIT, EINTERNAL); on an error the
 * session is unchanged. OUT is valid until the next call on T.
 */
int fd_svc_session_check(fd_svc_thread *t, const fd_svc_owner *owner, const char *key,
                         size_t keylen, const char *piece, size_t len, const char *meta,
                         const fd_svc_req *rq, fd_svc_session_out *out);

/* Sessions open now (for tests and stats). */
size_t fd_svc_sessions_count(fd_service *svc);

/* ---- admin --------------------------------------------------------------- */

/* The `version` answer's members (no braces) into OUT. */
void fd_svc_version(fd_svc_thread *t, fd_buf *out);
/* The `stats` answer's members (no braces) into OUT. */
void fd_svc_stats(fd_svc_thread *t, fd_buf *out);
/*
 * A snapshot of every counter, for `stats` and a metrics exposition:
 * requests per interface and op (ops[api][op], named by fd_svc_api_names
 * and fd_svc_op_names), errors per SPEC code, decisions, counted matches
 * per category and action (matches[cat][0] flag, [1] block; categories
 * named by x.cat_ids), the check latency (log-linear buckets for the
 * percentiles, fd_stats_lat_upper; fixed buckets for a histogram,
 * fd_stats_hist_us; lat_sum_us), bytes, connections, streams,
 * rules, reloads and the audit log's counts. Any thread (T only names the
 * rule set whose category names are used).
 */
void fd_svc_stats_snapshot(fd_svc_thread *t, fd_stats_snapshot *snap);

/*
 * Ask for a reload; RQ (caller's storage) waits on T until a reload that
 * started after this request has finished, then CB runs on T's thread.
 * Returns FD_SVC_PENDING, or FD_SVC_EBUSY when T is stopping.
 */
int fd_svc_reload(fd_svc_thread *t, fd_svc_reload_req *rq, fd_svc_reload_fn cb, void *arg);
/* Forget a waiting request (its owner goes away): CB will not run. */
void fd_svc_reload_cancel(fd_svc_thread *t, fd_svc_reload_req *rq);

/* One match as the JSON object of SPEC §2 (`suppressed` when set), plus
 * `src` FILE:LINE when SRC, plus `excerpt` when EXCERPT is not NULL. */
void fd_svc_match_json(fd_buf *b, const fd_ruleset *rs, const fd_match *m, bool src,
                       const char *excerpt, size_t excerpt_len);

#endif
