/*
 * holdback.h — what a stream must still hold back, computed from the text
 * that has arrived rather than from the widest rule (SPEC §2 `release`).
 * Internal: ruleset.c builds these per scanned buffer, stream.c runs them.
 *
 * Two questions per buffer, asked after every chunk:
 *   - literals: the longest suffix of the buffer that some literal of the
 *     buffer could still extend (a proper prefix of that literal). An
 *     Aho-Corasick automaton over the literals, by character, answers it
 *     in one state per stream; each state also knows the same for allow
 *     literals alone (what a block match must wait for).
 *   - regexes: the earliest start of a match that more text could still
 *     complete. All regexes of the buffer are joined into one PCRE2
 *     pattern that can never match, `(?|(?^flags:R1)|…)(*FAIL)`; a
 *     PARTIAL_HARD search then returns, as its partial match, the earliest
 *     start at which some regex reached the end of the text. A start that
 *     did not reach it never can, so the search resumes from the last
 *     answer. Regexes that cannot be joined safely (backtracking verbs,
 *     subroutine calls, named groups, \K, \G, extended mode) are held back
 *     by their width, as before.
 *
 * Ownership: an fd_hb belongs to its rule set and is immutable after
 * fd__hb_build(); any number of streams read it at once.
 */
#ifndef FD_HOLDBACK_H
#define FD_HOLDBACK_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fd_hb_node {
    uint32_t cp;    /* the character (code point; 0x110000 + byte if invalid) leading here */
    uint32_t child; /* first child; the children of node i are [child(i), child(i + 1)) */
    uint32_t fail;  /* the longest proper suffix that is a node too */
    uint32_t live;  /* bytes: the longest suffix of this node's text some literal extends */
    uint32_t allow; /* the same, extended by some allow literal */
} fd_hb_node;

/* One literal of a buffer, as the buffer's Hyperscan database sees it. */
typedef struct fd_hb_lit {
    const char *s;
    uint32_t len;
    uint8_t allow; /* an allow rule's literal */
} fd_hb_lit;

/* One regex of a buffer, with the compiled code of its rule (for its
 * options) and its width (FD_WIDTH_UNBOUNDED allowed). */
typedef struct fd_hb_rx {
    const char *pattern;
    size_t len;
    const pcre2_code *re;
    uint32_t width;
    uint8_t allow;
    uint8_t solo; /* set by fd__hb_build(): held back by its width, not joined */
} fd_hb_rx;

/* Joined patterns: as many as PCRE2's size limit needs. */
typedef struct fd_hb_set {
    pcre2_code **code;
    size_t n;
    size_t nrx; /* regexes joined in them */
} fd_hb_set;

typedef struct fd_hb {
    fd_hb_node *node; /* nnodes + 1 entries (the last: a sentinel for child()) */
    uint32_t nnodes;  /* 0: no literals in this buffer */
    uint32_t root_ascii[128];
    uint32_t max_live;  /* over all states: the literals' worst case */
    fd_hb_set rx;       /* every joinable regex */
    fd_hb_set rx_allow; /* the joinable allow regexes */
    /* Regexes held back by their width (not joinable): the widest, of all
     * and of the allow ones; 0 when none. */
    uint32_t solo_w, solo_allow_w;
    /* Whether a match can begin with a white space byte: if not, a white
     * space run the normalizer has not settled yet (it becomes ' ' or
     * '\n') cannot start a match, and need not be held back for itself. */
    uint8_t sep_start;
} fd_hb;

/* Build H from the LIT and RX of one buffer (either may be empty). Returns
 * 0 or FD_ENOMEM; a joined pattern PCRE2 rejects only makes its regexes
 * solo. */
int fd__hb_build(fd_hb *h, fd_hb_lit *lit, size_t nlit, fd_hb_rx *rx, size_t nrx);
void fd__hb_free(fd_hb *h);
size_t fd__hb_bytes(const fd_hb *h);

/* Whether a regex can be joined with others (see above). */
int fd__hb_joinable(const char *pattern, size_t len);

/* Run the literal automaton from state S over TEXT[0..LEN) (whole UTF-8
 * characters); returns the new state. */
uint32_t fd__hb_walk(const fd_hb *h, uint32_t s, const char *text, size_t len);

static inline uint32_t fd__hb_live(const fd_hb *h, uint32_t s)
{
    return h->nnodes ? h->node[s].live : 0;
}

static inline uint32_t fd__hb_allow(const fd_hb *h, uint32_t s)
{
    return h->nnodes ? h->node[s].allow : 0;
}

/*
 * Earliest offset >= FROM in TEXT[0..LEN) at which a match of RE (a joined
 * pattern) could still be in progress; LEN when none. TEXT before FROM is
 * context for look-behinds. MD and MCTX are the caller's (a scratch's). On
 * a PCRE2 error (a limit) returns FROM: hold back, never release early.
 */
size_t fd__hb_rx_front(const pcre2_code *re, const char *text, size_t len, size_t from,
                       pcre2_match_data *md, pcre2_match_context *mctx);

#endif
