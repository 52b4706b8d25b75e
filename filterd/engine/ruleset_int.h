/*
 * ruleset_int.h — the inside of an fd_ruleset, shared by ruleset.c (which
 * builds it) and scan.c (which reads it). Not a public header.
 */
#ifndef FD_RULESET_INT_H
#define FD_RULESET_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs.h>
#include <pcre2.h>
#include <stdatomic.h>

#include "holdback.h"
#include "ruleset.h"

/*
 * The text buffers a scan produces, one Hyperscan database each:
 *   RAW    the original bytes           <- `raw` rules
 *   KEEP   normalized, separators kept  <- `word` rules, `normalized` regexes
 *   STRIP  normalized, noise removed    <- `normalized` literals
 * A buffer no rule uses is never built (its database is NULL).
 */
enum fd_buf { FD_BUF_RAW = 0, FD_BUF_KEEP = 1, FD_BUF_STRIP = 2, FD_BUF_MAX = 3 };

#define FD_RI_LITERAL   0x1u  /* start = end - len */
#define FD_RI_WORD      0x2u  /* must start and end on a word boundary */
#define FD_RI_PREFILTER 0x4u  /* a regex: a Hyperscan hit is a candidate, PCRE2 finds the span */
#define FD_RI_COMBO     0x8u  /* an @all rule: matches come from its parts, not a database */
#define FD_RI_PART      0x10u /* one part of an @all rule: internal, never reported */
#define FD_RI_SOLO      0x20u /* a regex streams hold back by its width (holdback.h) */

/* What the scan needs to know of each rule, by rule index. */
typedef struct fd_rinfo {
    uint32_t len;        /* literal length in its buffer (FD_RI_LITERAL) */
    uint32_t width;      /* longest match in buffer bytes; FD_WIDTH_UNBOUNDED */
    uint8_t buf;         /* enum fd_buf */
    uint8_t flags;       /* FD_RI_* */
    uint8_t action;      /* fd_action */
    uint8_t validator;   /* fd_validator: the match must pass it */
    uint8_t nparts;      /* COMBO: its parts are the rules right after it */
    uint32_t rx;         /* regexes (FD_RI_PREFILTER): index among them */
    uint32_t lookbehind; /* regexes: the longest look-behind, in characters */
    pcre2_code *re;      /* FD_RI_PREFILTER: the exact regex */
    /* Block/flag rules: per buffer, the longest allow rule there whose match
     * could contain a match of this rule (0: none could). Streams wait that
     * long before they call a match final. */
    uint32_t allow_w[FD_BUF_MAX];
} fd_rinfo;

struct fd_ruleset {
    atomic_int refs;
    fd_rulelist rl;
    fd_rinfo *ri;                   /* rl.nrules entries */
    hs_database_t *db[FD_BUF_MAX];  /* HS_MODE_BLOCK: checks */
    hs_database_t *sdb[FD_BUF_MAX]; /* HS_MODE_STREAM: streams, same rules and ids */
    uint32_t width[FD_BUF_MAX];     /* longest match of any rule of the buffer */
    size_t buf_rules[FD_BUF_MAX];
    size_t view_rules[FD_VIEW_MAX];
    size_t nprefilter; /* regexes, all confirmed by PCRE2 */
    size_t nunbounded;
    uint32_t max_lookbehind; /* over all regexes, in characters */
    size_t ncombos;
    int cached;             /* the databases came from the cache */
    const char *cache_note; /* why not, when a cache was asked for */
    double compile_ms;
    size_t db_bytes;
    fd_hb hb[FD_BUF_MAX]; /* streams: what the text so far could still need */
};

#endif
