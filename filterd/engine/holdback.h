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
 *     complete. Each regex R also has `(?^flags:R)(*FAIL)`, which can never
 *     match: a PARTIAL_HARD search with it returns, as its partial match,
 *     the earliest start at which R reached the end of the text. A start
 *     that did not reach it never can, so a stream searches again only
 *     from its last answer, and only for the regexes that may be in
 *     progress: a regex becomes so when a character that can begin a
 *     match of it arrives (its first characters, enumerated at compile
 *     time with an anchored partial match of each candidate character),
 *     and stops being so when the search finds nothing. Regexes whose
 *     start depends on what comes before (a positive look-behind, \B) may
 *     begin anywhere. Regexes that cannot be wrapped safely (backtracking
 *     verbs, extended mode) are held back by their width, as before.
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
    uint32_t id;   /* the lead automaton: the regex (index into re[]) it leads */
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

/* One regex, as streams search for it. */
typedef struct fd_hb_re {
    pcre2_code *code; /* (?^flags:R)(*FAIL), JIT for partial matching */
    uint8_t allow;
} fd_hb_re;

typedef struct fd_hb {
    fd_hb_node *node; /* nnodes + 1 entries (the last: a sentinel for child()) */
    uint32_t nnodes;  /* 0: no literals in this buffer */
    uint32_t root_ascii[128];
    uint32_t *root_bmp; /* a root with many children: its child per BMP character */
    uint32_t max_live;  /* over all states: the literals' worst case */
    fd_hb_re *re;       /* the regexes streams search for */
    uint32_t nre;
    /* The automaton also holds the regexes' lead literals: a regex whose
     * every match begins with one of a few literals (a plain literal or
     * groups of literal alternatives after zero-width assertions) is in
     * progress only where the automaton is inside one (its live depth) or
     * has completed one (its outputs). The others go by their first
     * characters. ASCII case is folded, in the literals and in the walk. */
    uint32_t *depth;    /* lead automaton: per node, its depth in bytes */
    uint32_t *oend;     /* lead automaton: outputs of node v are olist[oend[v], oend[v + 1]) */
    uint32_t *olist;    /* regex indices */
    uint32_t *dict;     /* nearest node on the failure chain with outputs (0: none) */
    uint32_t max_depth; /* the longest literal */
    /* First characters: which regexes a character can begin. ASCII by
     * table, other code points through an open-addressed hash; the lists
     * are indices into re[]. `any`: regexes every character may begin;
     * `wide`: those a character beyond U+FFFF may begin (not enumerated). */
    uint32_t aoff[129];
    uint32_t *hkey, *hoff, *hcnt, hcap;
    uint32_t *list;
    uint32_t *any, nany;
    uint32_t *wide, nwide;
    /* Regexes held back by their width (not wrappable): the widest, of all
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

/* Whether a regex can be wrapped as (?^flags:R)(*FAIL) and searched for
 * from any start (see above). */
int fd__hb_joinable(const char *pattern, size_t len);

/* The regexes (indices into re[]) that the character CP may begin: two
 * lists, *A (by character) and *B (for every character). */
void fd__hb_firsts(const fd_hb *h, uint32_t cp, const uint32_t **a, size_t *na, const uint32_t **b,
                   size_t *nb);

/* Run the automaton of H from state S over TEXT[0..LEN) (whole
 * characters), whose first byte is at buffer offset AT; FN(CTX, regex,
 * start) for each lead literal completed. Returns the new state. */
uint32_t fd__hb_walk_lead(const fd_hb *h, uint32_t s, const char *text, size_t len, uint32_t at,
                          void (*fn)(void *, uint32_t, uint32_t), void *ctx);

/* Decode the UTF-8 character at P (LEN bytes left); its length in *N. */
uint32_t fd__hb_decode(const unsigned char *p, size_t len, size_t *n);

/* Run the automaton from state S over TEXT[0..LEN) (whole UTF-8
 * characters) without outputs or case folding (a separator byte looked
 * ahead); returns the new state. */
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
 * Earliest offset >= FROM in TEXT[0..LEN) at which a match of RE (a
 * wrapped regex) could still be in progress; LEN when none. TEXT before
 * FROM is context for look-behinds. MD and MCTX are the caller's (a
 * scratch's). On a PCRE2 error (a limit) returns FROM: hold back, never
 * release early.
 */
size_t fd__hb_rx_front(const pcre2_code *re, const char *text, size_t len, size_t from,
                       pcre2_match_data *md, pcre2_match_context *mctx);

#endif
