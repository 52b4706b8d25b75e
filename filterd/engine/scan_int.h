/*
 * scan_int.h — what scan.c (checks) and stream.c (streams) share: the
 * inside of a scratch and a few helpers. Not a public header.
 */
#ifndef FD_SCAN_INT_H
#define FD_SCAN_INT_H

#include "combo.h"
#include "norm.h"
#include "ruleset_int.h"
#include "scan.h"

struct fd_scratch {
    hs_scratch_t *hs;
    /* Per rule, stamped with `gen` so they never need clearing: the match
     * index of the rule's last recorded match (to merge the several end
     * offsets Hyperscan reports for one start), and prefilter candidacy. */
    uint32_t *last_gen;
    uint32_t *last_idx;
    uint32_t *cand_gen;
    size_t nrules_cap;
    uint32_t gen;
    uint32_t *cand; /* prefiltered rules with a candidate this scan */
    size_t ncand;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    fd_normbuf nb[FD_BUF_MAX]; /* checks: the normalized views of the text */
    /* Co-occurrence rules: the part occurrences of this scan, and one state
     * per @all rule touched (found through combo_gen/combo_idx, stamped). */
    fd_part_occ *parts;
    size_t nparts, pcap;
    fd_combo_state *cst;
    size_t ncst, ccap;
    uint32_t *combo_gen;
    uint32_t *combo_idx;
};

/* The state of @all rule COMBO in this scan, created on first use; NULL
 * when out of memory. */
fd_combo_state *fd__combo_state(fd_scratch *s, uint32_t combo);

/* Sort part occurrences by (end, start, rule), in place. */
void fd__sort_parts(fd_part_occ *p, size_t n);

/* Start a new scan: new stamp, no candidates. */
void fd__scratch_next_gen(fd_scratch *s);

/* Word boundaries of `word` rules in a normalized (KEEP) buffer. */
int fd__word_char_at(const char *buf, size_t blen, size_t off);
int fd__word_bounded(const char *buf, size_t blen, size_t from, size_t to);

/* Boundaries in a STRIP buffer, from its gap flags (see scan.c): whether a
 * match [FROM, TO) may start at FROM (WORD: a `word` rule), may end at TO,
 * and whether it spans a gap. */
int fd__strip_start_ok(const char *buf, const uint8_t *gap, size_t blen, size_t from, size_t to,
                       int word);
int fd__strip_end_ok(const char *buf, const uint8_t *gap, size_t blen, size_t to);
int fd__strip_crosses(const uint8_t *gap, size_t from, size_t to);

/* Append a match to RES, growing it up to FD_MAX_MATCHES; past that the
 * match is counted in res->dropped. Returns 0, 1 (dropped) or -1 (out of
 * memory). */
int fd__result_push(fd_result *res, uint32_t rule, uint32_t start, uint32_t end, uint8_t action,
                    uint8_t suppressed);

/* Sort by (start, end, rule) in place, without allocating. */
void fd__sort_matches(fd_match *m, size_t n);

#endif
