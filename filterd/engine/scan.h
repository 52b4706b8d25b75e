/*
 * scan.h — one text through a rule set: matches, allow suppression, decision.
 *
 * The hot path. A thread creates one fd_scratch (Hyperscan scratch plus the
 * view buffers) and one fd_result, and reuses both for every scan: after the
 * first few calls have grown the buffers to the working size, fd_scan()
 * neither allocates nor takes a lock.
 *
 * Ownership: the caller owns the scratch and the result; the result's
 * matches stay valid until the next fd_scan() into it or fd_result_free().
 * A scratch may be used with any rule set it was created or updated for
 * (fd_scratch_update() after a reload makes it fit the new one too).
 */
#ifndef FD_SCAN_H
#define FD_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"
#include "utf8.h"

/* Matches recorded per scan; beyond this they are counted in `dropped`
 * and, failing closed, still count towards the decision unsuppressed. */
#define FD_MAX_MATCHES 65536

typedef struct fd_match {
    uint32_t rule;       /* index into the rule set */
    uint32_t start, end; /* byte offsets into the original text, on char boundaries */
    uint8_t action;      /* fd_action of the rule */
    uint8_t suppressed;  /* 1: a block/flag match lying inside an allow match */
} fd_match;

typedef struct fd_result {
    fd_action decision; /* over unsuppressed block/flag matches */
    fd_match *matches;  /* sorted by (start, end, rule); includes allow and suppressed ones */
    size_t n;
    size_t cap;
    size_t dropped; /* matches not recorded (over FD_MAX_MATCHES) */
} fd_result;

void fd_result_init(fd_result *r);
void fd_result_free(fd_result *r);

typedef struct fd_scratch fd_scratch;

int fd_scratch_new(const fd_ruleset *rs, fd_scratch **out);
/* Make s usable with rs as well (grows the Hyperscan scratch). */
int fd_scratch_update(fd_scratch *s, const fd_ruleset *rs);
void fd_scratch_free(fd_scratch *s);

/* Scan TEXT (LEN bytes, must be valid UTF-8) with rule set RS. Returns 0,
 * FD_EUTF8 (text not UTF-8; result emptied), FD_ETOOBIG (over 4 GiB),
 * FD_ENOMEM or FD_EHS. */
int fd_scan(const fd_ruleset *rs, fd_scratch *s, const char *text, size_t len, fd_result *res);

#endif
