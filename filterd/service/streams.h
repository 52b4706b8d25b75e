/*
 * streams.h — the stream table of the service (SPEC §2 open/chunk/close),
 * internal: the public calls are fd_svc_stream_* and fd_svc_owner_* of
 * service.h.
 *
 * Streams are keyed by (owner, id): each fd_svc_owner holds a chained hash
 * of its streams (lookups per chunk are O(1) however large --max-streams
 * is) plus a list in order of last use, so the --stream-timeout sweep only
 * looks at streams that have expired.
 *
 * Memory is bounded per stream (the engine's state is bounded; the audit
 * material is capped) and per owner (--max-streams). A chunk allocates
 * nothing once a stream's buffers have their working size.
 *
 * The record. Every stream gets exactly one audit record, at the first of:
 * "block" (a chunk made the decision block), "close", "disconnect" (its
 * owner ended), "timeout" (--stream-timeout; not named by SPEC §4, written
 * like "disconnect") or "error" (the engine failed; the client got
 * `internal`). A decision that depends on the record — the blocking
 * chunk's, the close's — is answered only once that record is written
 * (FD_SVC_PENDING); a stream whose record failed answers `audit_failed`
 * from then on, never a decision. A stream that has left its owner's table
 * but whose record (or a close waiting on it) is still on its way lives on
 * until the ticket comes back.
 *
 * Threading and ownership: used only on the owning thread. A stream
 * belongs to its owner's table, then to its pending ticket.
 */
#ifndef FD_SVC_STREAMS_H
#define FD_SVC_STREAMS_H

#include "service.h"

/* Counted matches kept per stream for its audit record; more are counted
 * in `dropped` (the decision still takes them into account). */
#define FD_CSTREAM_MAX_MATCHES 256
/* Audit excerpts: at most this many bytes per match and per stream, taken
 * from the current chunk and a tail of the earlier text this long. */
#define FD_CSTREAM_EXCERPT_MAX  256
#define FD_CSTREAM_EXCERPTS_MAX (16 * 1024)
#define FD_CSTREAM_TAIL         1024

#endif
