/*
 * stream_audit.h — the audit hook of streams (SPEC §4): one record per
 * stream, written when the stream ends.
 *
 * A stream ends, and fd_stream_audit() is called exactly once for it, at
 * the first of:
 *  - "block":      a chunk made the decision block (the stream is
 *                  finished; its later `close` writes no second record);
 *  - "close":      the client closed the stream (also when the close then
 *                  fails, e.g. the text ended inside a UTF-8 character);
 *  - "disconnect": the connection ended (client gone, error, idle timeout,
 *                  daemon stop) with the stream still open;
 *  - "timeout":    --stream-timeout ended the stream (no chunk for that
 *                  long): not named by SPEC §4, but an ended stream must
 *                  leave a record; write it like "disconnect";
 *  - "error":      the engine failed (out of memory, Hyperscan error) and
 *                  the stream was dropped; the client got `internal`.
 * Call sites: proto.c (block, close) and streams.c (disconnect, timeout,
 * error), each marked "AUDIT HOOK".
 *
 * Like fd_audit_decision() (audit.h) it runs on the worker thread and only
 * queues the record for the worker's batch (no I/O). For "block" and
 * "close" a negative return fails closed: the triggering request is
 * answered `audit_failed` instead of its decision. For the other ends the
 * return value is only logged (there is no request to answer).
 *
 * For now fd_stream_audit() is a no-op that returns 0 (stream_audit.c):
 * the audit log will be wired in here.
 *
 * The fields mirror fd_audit_stream_input of audit.h one to one, except:
 * excerpts come as one buffer plus offsets (build the fd_audit_excerpt
 * array from them: an empty excerpt means "not held any more", p = NULL);
 * `text` is never available (the daemon does not keep a stream's text, so
 * --audit-text full records a stream without "text"); `rs` is never NULL;
 * `end` may also be "timeout" or "error"; `peer` is always set.
 *
 * Ownership: everything in fd_stream_audit_input is borrowed for the call;
 * the implementation copies what it keeps.
 */
#ifndef FD_STREAM_AUDIT_H
#define FD_STREAM_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ruleset.h"
#include "scan.h"
#include "worker.h"

typedef struct fd_stream_audit_input {
    const char *end;    /* "block" | "close" | "disconnect" | "timeout" | "error" */
    const char *stream; /* the stream id (NUL-terminated, raw: escape it) */
    size_t stream_len;
    const char *id_json; /* the triggering request's id as JSON text ('"x"' or
                            '7'), or NULL (no id, or no request: disconnect,
                            timeout) */
    size_t id_len;
    const char *meta;         /* the `meta` of `open` as JSON text, or NULL */
    const struct ucred *peer; /* the connection's SO_PEERCRED */
    fd_action decision;       /* final for the stream (worst over all of it) */
    const fd_match *matches;  /* the counted block/flag matches of the whole stream
                                 (not suppressed ones), sorted by the order they were
                                 found; start/end are byte offsets from the stream's
                                 start */
    size_t nmatches;
    uint64_t dropped;      /* counted matches not kept (over FD_CSTREAM_MAX_MATCHES) */
    const char *excerpts;  /* the matched bytes of match i are
                              excerpts[exoff[i] .. exoff[i+1]): all of them, or none
                              (over 256 bytes, no longer at hand, over the stream's
                              16 KiB budget, or no audit log with excerpts) */
    const uint32_t *exoff; /* nmatches + 1 offsets (never NULL) */
    const fd_ruleset *rs;  /* the stream's rule set: rule ids, FILE:LINE, version */
    const char *sha256;    /* 64 lowercase hex digits over every byte fed */
    uint64_t bytes;        /* bytes fed (what sha256 covers) */
    uint64_t us;           /* server time of the triggering request, µs (0: none) */
    fd_conn *conn;         /* "block"/"close": the connection whose c->out holds the
                              response giving this decision, starting with '{' at
                              conn->out.data[resp_off] (then '"id":ID,' when the
                              request had an id); NULL for the other ends (no
                              response waits on the record) */
    size_t resp_off;
} fd_stream_audit_input;

/* Queue the audit record of an ending stream. Returns 0, or a negative
 * error code if the record could not be queued. */
int fd_stream_audit(fd_worker *w, const fd_stream_audit_input *in);

#endif
