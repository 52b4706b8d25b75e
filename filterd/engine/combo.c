/*
 * combo.c — co-occurrence rules (see combo.h and rules/README.md).
 */
#include "combo.h"

#include <string.h>

void fd__combo_init(fd_combo_state *cs, uint32_t combo)
{
    memset(cs, 0, sizeof *cs);
    cs->combo = combo;
}

/* Characters (UTF-8 lead bytes) in BUF between buffer offsets A and B. */
static uint32_t chars_between(const char *buf, uint32_t base, uint32_t blen, uint32_t a, uint32_t b)
{
    uint32_t n = 0;
    for (uint32_t i = a; i < b && i - base < blen; i++)
        n += ((unsigned char)buf[i - base] & 0xC0) != 0x80;
    return n;
}

int fd__combo_add(const fd_ruleset *rs, fd_combo_state *cs, const fd_part_occ *o, const char *buf,
                  uint32_t base, uint32_t blen, uint32_t *start, uint32_t *end)
{
    const fd_rule *combo = &rs->rl.rules[cs->combo];
    const fd_rinfo *ci = &rs->ri[cs->combo];
    const fd_rule *part = &rs->rl.rules[o->rule];
    unsigned k = o->rule - cs->combo - 1;
    if (part->negated) {
        cs->neg_seen = 1;
        return 0;
    }
    if (cs->done)
        return 0;
    cs->have |= 1u << k;
    cs->latest[k] = *o;
    uint32_t all = 0, neg = 0;
    for (unsigned p = 0; p < ci->nparts; p++) {
        if (rs->rl.rules[cs->combo + 1 + p].negated)
            neg = 1;
        else
            all |= 1u << p;
    }
    if ((cs->have & all) != all)
        return 0;
    uint32_t s = o->start, bs = o->bstart;
    for (unsigned p = 0; p < ci->nparts; p++)
        if (all & (1u << p)) {
            if (cs->latest[p].start < s)
                s = cs->latest[p].start;
            if (cs->latest[p].bstart < bs)
                bs = cs->latest[p].bstart;
        }
    if (combo->within) {
        /* A part older than the buffer we still hold is farther away than
         * any @within window (streams keep 4 bytes a character of it). */
        if (bs < base || chars_between(buf, base, blen, bs, o->bend) > combo->within)
            return 0;
    }
    cs->done = 1;
    cs->start = s;
    cs->end = o->end;
    if (neg)
        return 0; /* decided at the end of the text */
    *start = s;
    *end = o->end;
    return 1;
}

int fd__combo_end(const fd_ruleset *rs, fd_combo_state *cs, uint32_t *start, uint32_t *end)
{
    const fd_rinfo *ci = &rs->ri[cs->combo];
    int neg = 0;
    for (unsigned p = 0; p < ci->nparts; p++)
        neg |= rs->rl.rules[cs->combo + 1 + p].negated;
    if (!neg || !cs->done || cs->neg_seen)
        return 0;
    *start = cs->start;
    *end = cs->end;
    return 1;
}
