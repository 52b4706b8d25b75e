/*
 * stream.h — one model answer checked as it is generated, chunk by chunk
 * (SPEC §2 open/chunk/close).
 *
 * A stream gives exactly the matches and the decision that fd_scan() gives
 * for the whole text, found as soon as they are certain, and after each
 * chunk says how many bytes from the start may be delivered: the release
 * point, always on a character boundary. Released bytes can never become
 * part of a match any more and never include a byte of a blocking match;
 * what is held back is what the text so far could still need (the literal
 * prefixes and regex matches in progress, holdback.h), never more than the
 * hold-back cap.
 *
 * Ownership: fd_stream_open() takes a reference to the rule set, so a
 * stream keeps the rules it was opened with across reloads; fd_stream_free()
 * drops it. The caller owns the stream, the scratch (any scratch fitted to
 * the stream's rule set, used by one thread at a time) and the result.
 * Memory per stream is bounded: Hyperscan stream state plus, per matching
 * view, a window of about the hold-back (fd_stream_bytes() tells).
 */
#ifndef FD_STREAM_H
#define FD_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "scan.h"

typedef struct fd_stream fd_stream;

/* Hold-back for rules of unbounded width (regexes with * or +), in bytes of
 * the scanned text, unless the caller sets another: such a rule can still
 * match a longer span, but its start may then lie in released text. */
#define FD_STREAM_DEFAULT_HOLDBACK 1024u

/* Open a stream on RS. MAX_HOLDBACK caps the hold-back (0: the default).
 * Returns 0, FD_ENOMEM or FD_EHS. */
int fd_stream_open(fd_ruleset *rs, fd_scratch *s, uint32_t max_holdback, fd_stream **out);

/*
 * Feed the next LEN bytes. A chunk may end inside a UTF-8 character; the
 * rest must follow. Fills RES with the matches that became final with this
 * chunk (block and flag ones, suppressed ones marked; allow matches are not
 * listed), sets res->decision to the worst over the whole stream so far and
 * *RELEASE to the release point. Returns 0; FD_EUTF8 (the chunk is not
 * UTF-8: nothing of it was taken, the stream can go on); FD_ESTATE (the
 * stream is blocked or closed); FD_ETOOBIG (streams end at 4 GiB);
 * FD_ENOMEM or FD_EHS (the stream is broken: free it).
 */
int fd_stream_feed(fd_stream *st, fd_scratch *s, const char *chunk, size_t len, fd_result *res,
                   uint64_t *release);

/* End of the text: the last matches (end-anchored ones, word boundaries at
 * the end), the final decision, and *RELEASE = all bytes unless blocked.
 * Returns as fd_stream_feed(), FD_EUTF8 if the text ended mid-character. A
 * closed stream only accepts fd_stream_free(). */
int fd_stream_close(fd_stream *st, fd_scratch *s, fd_result *res, uint64_t *release);

void fd_stream_free(fd_stream *st);

/*
 * How the release point is computed. FD_STREAM_EXACT (the default): from
 * the state of the text, holding back only what some rule could still
 * match through given what has arrived. FD_STREAM_WIDEST: the hold-back of
 * the widest rule, whatever the text, as filterd did before; only the
 * bench uses it, as the baseline of its lag and cost figures. Set it
 * before the first fd_stream_feed().
 */
typedef enum fd_stream_policy { FD_STREAM_EXACT = 0, FD_STREAM_WIDEST = 1 } fd_stream_policy;
void fd_stream_set_policy(fd_stream *st, fd_stream_policy p);

/*
 * The worst-case hold-back of rule IDX of RS, in bytes of the text its
 * view scans (the original text can be longer: removed invisible
 * characters, separator noise): for a literal its longest proper prefix
 * (the literal less its last character), for a regex or an @all rule its
 * width (FD_WIDTH_UNBOUNDED: up to the stream's cap). A stream holds that
 * much back only while a match of the rule may be in progress, except for
 * the regexes *ALWAYS (if not NULL) is set for: the few that cannot be
 * joined for partial matching, held back by their width whatever the text.
 */
uint32_t fd_stream_rule_holdback(const fd_ruleset *rs, uint32_t idx, int *always);
/* A "FILE:LINE: note: …" line in DIAG for every rule whose worst-case
 * hold-back exceeds ABOVE bytes (ALL: for every rule); returns how many. */
int fd_stream_holdback_notes(const fd_ruleset *rs, uint32_t above, int all, fd_diag *diag);

fd_action fd_stream_decision(const fd_stream *st);
/* Bytes fed so far, complete characters only. */
uint64_t fd_stream_length(const fd_stream *st);
/* Whether a block has finished the stream. */
int fd_stream_blocked(const fd_stream *st);
/* The rule set the stream uses (the stream holds a reference). */
const fd_ruleset *fd_stream_ruleset(const fd_stream *st);
/* Memory this stream holds now, Hyperscan state included. */
size_t fd_stream_bytes(const fd_stream *st);

#endif
