/*
 * streams.h — the streams of one connection (SPEC §2 open/chunk/close):
 * a table from stream id to engine stream plus what the stream's audit
 * record needs (stream_audit.h).
 *
 * Ids are strings (1 to FD_CSTREAM_ID_MAX bytes) unique within their
 * connection. The table is a chained hash (lookups per chunk are O(1)
 * however large --max-streams is) plus a list in order of last use, so the
 * --stream-timeout sweep only looks at streams that have expired.
 *
 * Memory is bounded per stream (the engine's state is bounded; the audit
 * material below is capped) and per connection (--max-streams streams).
 * A chunk allocates nothing once a stream's buffers have their working
 * size (the SHA-256 context is allocated at open).
 *
 * Every stream ends in exactly one of three ways, each of which audits it
 * (unless a block already did) and frees it: fd_cstream_end() after
 * `close` or an engine failure, fd_streams_sweep() on timeout, and
 * fd_streams_end_all() when the connection ends.
 *
 * Threading and ownership: the table belongs to its connection and is
 * used only on the connection's worker thread. An fd_cstream belongs to
 * the table; pointers to it are valid until it is ended.
 */
#ifndef FD_STREAMS_H
#define FD_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hash.h"
#include "scan.h"
#include "stream.h"
#include "worker.h"

/* Longest stream id, bytes. */
#define FD_CSTREAM_ID_MAX 256
/* Counted matches kept per stream for its audit record; more are counted
 * in `dropped` (the decision still takes them into account). */
#define FD_CSTREAM_MAX_MATCHES 256
/* Audit excerpts: at most this many bytes per match and per stream, taken
 * from the current chunk and a tail of the earlier text this long. */
#define FD_CSTREAM_EXCERPT_MAX  256
#define FD_CSTREAM_EXCERPTS_MAX (16 * 1024)
#define FD_CSTREAM_TAIL         1024

typedef struct fd_cstream fd_cstream;

struct fd_cstream {
    fd_cstream *hnext;               /* hash chain */
    fd_cstream *lru_prev, *lru_next; /* least recently used first */
    fd_stream *st;
    fd_sha256_ctx sha;    /* over every byte the engine took */
    char sha256[65];      /* hex digest, once audited */
    uint64_t bytes;       /* bytes the engine took */
    uint64_t last_active; /* loop time (ms) of open or the last chunk */
    size_t mem;           /* fd_stream_bytes() as counted in the stats */
    char *meta;           /* `meta` of open as JSON text, or NULL */
    fd_match *matches;    /* counted matches, for the audit record */
    uint32_t *exoff;      /* excerpt offsets: nmatches + 1 of them */
    size_t nmatches, capmatches;
    uint64_t dropped;
    fd_buf excerpts;
    char *tail; /* the last <= FD_CSTREAM_TAIL bytes taken, or NULL
                   when excerpts are not wanted */
    size_t ntail;
    bool audited; /* its record has been queued */
    uint32_t hash;
    size_t idlen;
    char id[]; /* NUL-terminated */
};

typedef struct fd_streams {
    fd_cstream **buckets;
    size_t nbuckets; /* 0 or a power of two */
    size_t n;
    fd_cstream *lru_head, *lru_tail;
} fd_streams;

/* The stream ID (IDLEN bytes) of C, or NULL. */
fd_cstream *fd_streams_find(fd_conn *c, const char *id, size_t idlen);

/*
 * Open stream ID on C with the worker's current rule set; META is the
 * request's meta as JSON text or NULL (copied). The caller has checked
 * that ID is new and the --max-streams limit. Returns 0 and *OUT, or
 * FD_ENOMEM / FD_EHS.
 */
int fd_cstream_open(fd_conn *c, const char *id, size_t idlen, const char *meta, fd_cstream **out);

/*
 * Feed the next chunk TEXT (LEN bytes) of CS: as fd_stream_feed() (RES gets
 * the new matches and the decision so far, *RELEASE the release point),
 * plus the running digest, the byte count, the kept matches and the stats.
 * Returns as fd_stream_feed().
 */
int fd_cstream_feed(fd_conn *c, fd_cstream *cs, const char *text, size_t len, fd_result *res,
                    uint64_t *release);

/* End of CS's text: as fd_stream_close(). The stream stays in the table
 * (for its audit record) until fd_cstream_end(). */
int fd_cstream_close(fd_conn *c, fd_cstream *cs, fd_result *res, uint64_t *release);

/*
 * Queue CS's audit record with END (stream_audit.h) unless it already has
 * one; ID_JSON/ID_LEN is the triggering request's id as JSON text (NULL:
 * none), US its server time, RESP_OFF where its response starts in
 * c->out (SIZE_MAX: no response waits on this record). Returns 0 or the
 * hook's negative error.
 */
int fd_cstream_audit(fd_conn *c, fd_cstream *cs, const char *end, const char *id_json,
                     size_t id_len, uint64_t us, size_t resp_off);

/* Audit CS with END if it has no record yet (errors logged), then remove
 * and free it. */
void fd_cstream_end(fd_conn *c, fd_cstream *cs, const char *end);

/* End the streams of C unused for TIMEOUT_MS at loop time NOW ("timeout"). */
void fd_streams_sweep(fd_conn *c, uint64_t now, uint64_t timeout_ms);

/* End every stream of C with END ("disconnect") and free the table. */
void fd_streams_end_all(fd_conn *c, const char *end);

#endif
