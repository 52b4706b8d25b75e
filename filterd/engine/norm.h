/*
 * norm.h — the normalizer behind the `normalized` and `word` views (SPEC §3.3).
 *
 * One function, applied identically to rule patterns at compile time and to
 * texts at scan time, so that a pattern and a text that differ only by
 * evasion (full-width, traditional characters, upper case, zero-width
 * characters, separator noise) normalize to the same bytes.
 *
 * Two modes:
 *   FD_NORM_KEEP_SEP   NFKC + full case folding + traditional→simplified +
 *                      invisible characters removed; separators (white space,
 *                      punctuation, symbols) are kept. Used by the `word` view
 *                      and by regexes of the `normalized` view.
 *   FD_NORM_STRIP_SEP  the same, and separator noise inside a word is removed
 *                      so `炸 弹`, `b.o.m.b` read as `炸弹`, `bomb`; what counts
 *                      as noise and what stays a break is in rules/README.md
 *                      (§5, "What normalization does").
 *                      Used by literals of the `normalized` view.
 *
 * Offsets: out->map[i] is the byte offset in the input of the first byte of
 * the input character that produced output byte i. A match [s, e) of the
 * output covers the input bytes [map[s], end of the char at map[e-1]).
 *
 * Ownership: the caller owns the fd_normbuf and reuses it across calls; it
 * grows as needed and is freed with fd_normbuf_free(). No allocation happens
 * once it is large enough.
 */
#ifndef FD_NORM_H
#define FD_NORM_H

#include <stddef.h>
#include <stdint.h>

typedef enum fd_norm_mode { FD_NORM_KEEP_SEP = 0, FD_NORM_STRIP_SEP = 1 } fd_norm_mode;

typedef struct fd_normbuf {
    char *text;    /* normalized UTF-8, NUL-terminated for convenience */
    uint32_t *map; /* map[i]: input offset of output byte i (len entries) */
    /* FD_NORM_STRIP_SEP only (undefined in KEEP output): gap[i] is 1 when
     * output byte i is the first byte of a word character that follows
     * separator noise the normalizer dropped (`b o m b`: at o, m, b), else
     * 0. What keeps `word` boundaries and Latin word gaps visible in a
     * view without separators (rules/README.md §5). */
    uint8_t *gap;
    size_t len; /* bytes in text */
    size_t cap; /* allocated entries of text, map and gap */
} fd_normbuf;

void fd_normbuf_init(fd_normbuf *b);
void fd_normbuf_free(fd_normbuf *b);

/* Normalize IN (LEN bytes of valid UTF-8; the caller validates) into OUT,
 * replacing its previous contents. Returns 0, FD_ENOMEM or FD_ETOOBIG
 * (LEN > UINT32_MAX: map entries are 32-bit), or FD_EINVAL for an unknown
 * mode. On error OUT is left empty (len 0) and may still be reused/freed.
 * Invalid UTF-8 does not crash: each bad byte reads as U+FFFD, a symbol. */
int fd_norm(const char *in, size_t len, fd_norm_mode mode, fd_normbuf *out);

/* Both modes in one pass: exactly the results of
 *     fd_norm(in, len, FD_NORM_KEEP_SEP, keep) and
 *     fd_norm(in, len, FD_NORM_STRIP_SEP, strip)
 * (text, map, NUL, return value), at about the cost of one of them: each
 * character is decoded and looked up once. KEEP and STRIP must be two
 * different buffers (FD_EINVAL otherwise). On error both are left empty. */
int fd_norm_both(const char *in, size_t len, fd_normbuf *keep, fd_normbuf *strip);

/* fd_norm_both() that also validates: returns FD_EUTF8 (both buffers left
 * empty) exactly when fd_utf8_valid(in, len) is false, so a caller that
 * needs both views can skip its own validation pass. The check is the
 * normalizer's own strict decoding (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence). */
int fd_norm_both_checked(const char *in, size_t len, fd_normbuf *keep, fd_normbuf *strip);

/*
 * Streams. A text may be normalized in pieces: fd_norm_begin(), then
 * fd_norm_feed() per piece (each of whole characters), which APPENDS to OUT
 * what is settled so far, with map entries that are offsets from the start
 * of the stream. The concatenated output and map of all pieces equal
 * fd_norm() of the whole text. What is not settled yet (a separator run
 * that may still become a break, or be dropped at the end) is held in the
 * state, which is small and fixed-size; a stream that simply ends drops it,
 * exactly as fd_norm() drops a trailing run. Streams are limited to 4 GiB.
 */
typedef struct fd_norm_state {
    fd_norm_mode mode;
    uint32_t base;    /* stream offset of the next input byte */
    uint32_t run;     /* separators in the pending run (capped) */
    uint32_t run_at;  /* stream offset of the run's first character */
    uint32_t run_len; /* and its length: a match may end on the byte it becomes */
    uint32_t seg;     /* STRIP: word characters since the last run (capped) */
    uint8_t any;      /* something was emitted: runs before it are dropped */
    uint8_t brk;      /* STRIP: the pending run is a break */
    uint8_t term;     /* STRIP: it contains a weak terminator */
    uint8_t nl;       /* KEEP: it contains a line break */
    uint8_t wide;     /* STRIP: the last word character was wide */
    uint8_t clause;   /* STRIP: the pending run holds an ASCII , or ; */
} fd_norm_state;

void fd_norm_begin(fd_norm_state *st, fd_norm_mode mode);
/* Returns 0, FD_ENOMEM, FD_ETOOBIG or FD_EINVAL; on error OUT keeps what
 * it had before the call and the state is unchanged. */
int fd_norm_feed(fd_norm_state *st, const char *in, size_t len, fd_normbuf *out);
/* Both modes of one stream in one pass: KST was begun with
 * FD_NORM_KEEP_SEP, SST with FD_NORM_STRIP_SEP, and both were fed the same
 * pieces (only through this function, or the same pieces through
 * fd_norm_feed() each). The same as fd_norm_feed(KST, .., KEEP) and
 * fd_norm_feed(SST, .., STRIP). FD_EINVAL if the modes are wrong, the
 * states are at different offsets, or KEEP == STRIP; on any error both
 * buffers keep what they had and both states are unchanged. */
int fd_norm_feed_both(fd_norm_state *kst, fd_norm_state *sst, const char *in, size_t len,
                      fd_normbuf *keep, fd_normbuf *strip);
/* Stream offset of the first input byte whose output is not settled. */
uint32_t fd_norm_pending(const fd_norm_state *st);

/* In FD_NORM_STRIP_SEP output, a sentence/clause break is this single byte,
 * and the byte appears nowhere else: word characters never map to it and
 * breaks are only emitted between two word characters (never leading or
 * trailing). So a normalized literal without it can never match across a
 * break. A literal whose own normalized form contains it (the author wrote
 * "end. Start" or a line separator inside the pattern) matches only the
 * same break in a text; the rule compiler may prefer to reject it. */
#define FD_NORM_BREAK '\n'

/* FD_NORM_STRIP_SEP: the longest run of separators still read as noise. */
#define FD_NORM_MAX_NOISE 3

/* A string that changes whenever the normalizer's output could change
 * (algorithm revision, Unicode version, digest of the generated tables):
 * part of the key of any cache of normalized/compiled patterns. Static. */
const char *fd_norm_version(void);

/* Word characters (letters, marks, digits, and characters folding to them)
 * in normalized text, for `word` view boundary checks: whether the
 * character starting at byte OFF of TEXT (LEN bytes, normalized) is a word
 * character (0 at OFF >= LEN), and whether the character ending just
 * before OFF is (0 at OFF == 0). OFF must be on a character boundary. */
int fd_norm_word_at(const char *text, size_t len, size_t off);
int fd_norm_word_before(const char *text, size_t off);

#endif
