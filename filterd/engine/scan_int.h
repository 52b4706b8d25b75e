/*
 * scan_int.h — what scan.c (checks) and stream.c (streams) share: the
 * inside of a scratch and a few helpers. Not a public header.
 */
#ifndef FD_SCAN_INT_H
#define FD_SCAN_INT_H

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
};

/* Start a new scan: new stamp, no candidates. */
void fd__scratch_next_gen(fd_scratch *s);

/* Word boundaries of `word` rules in a normalized (KEEP) buffer. */
int fd__word_char_at(const char *buf, size_t blen, size_t off);
int fd__word_bounded(const char *buf, size_t blen, size_t from, size_t to);

/* Sort by (start, end, rule) in place, without allocating. */
void fd__sort_matches(fd_match *m, size_t n);

#endif
