/*
 * combo.h — evaluating co-occurrence (@all) rules from the occurrences of
 * their parts. Internal, shared by scan.c and stream.c so that checks and
 * streams decide alike.
 *
 * Occurrences are fed in order of their end. A combination is satisfied at
 * the first occurrence after which every positive part has occurred (using
 * the latest occurrence of each) and, with @within N, the span from the
 * earliest of those to this one holds at most N characters of the scanned
 * text. Without negated parts it fires then; with them it can only fire at
 * the end of the text, if no negated part occurred at all.
 */
#ifndef FD_COMBO_H
#define FD_COMBO_H

#include <stdint.h>

#include "ruleset_int.h"

typedef struct fd_part_occ {
    uint32_t rule;         /* the part's rule index */
    uint32_t start, end;   /* original offsets */
    uint32_t bstart, bend; /* offsets in the buffer the parts scan */
} fd_part_occ;

typedef struct fd_combo_state {
    uint32_t combo;      /* rule index of the @all rule */
    uint32_t have;       /* bit k: positive part k has occurred */
    uint8_t neg_seen;    /* a negated part occurred */
    uint8_t done;        /* fired, or satisfied and waiting for the end */
    uint32_t start, end; /* the satisfying span, original offsets */
    fd_part_occ latest[FD_MAX_PARTS];
} fd_combo_state;

void fd__combo_init(fd_combo_state *cs, uint32_t combo);

/*
 * Add occurrence O of one of CS's parts. BUF holds the scanned buffer from
 * buffer offset BASE on (BLEN bytes), for counting characters. Returns 1 if
 * the combination fires now (its span in *start, *end), else 0.
 */
int fd__combo_add(const fd_ruleset *rs, fd_combo_state *cs, const fd_part_occ *o, const char *buf,
                  uint32_t base, uint32_t blen, uint32_t *start, uint32_t *end);

/* End of the text: 1 if a combination with negated parts fires. */
int fd__combo_end(const fd_ruleset *rs, fd_combo_state *cs, uint32_t *start, uint32_t *end);

#endif
