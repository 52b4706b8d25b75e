/*
 * scan.c — the hot path: validate, build the view buffers, one Hyperscan
 * pass per buffer, confirm prefiltered regexes, map spans to the original,
 * suppress matches inside allow spans, decide.
 *
 * Nothing here allocates once the scratch and the result have grown to the
 * working size, and nothing takes a lock: the rule set is immutable and the
 * scratch belongs to the calling thread.
 */
#include "scan.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "norm.h"
#include "scan_int.h"
#include "validate.h"

void fd_result_init(fd_result *r)
{
    memset(r, 0, sizeof *r);
}

void fd_result_free(fd_result *r)
{
    free(r->matches);
    fd_result_init(r);
}

static int scratch_fit(fd_scratch *s, const fd_ruleset *rs)
{
    for (int b = 0; b < FD_BUF_MAX; b++) {
        if (rs->db[b] && hs_alloc_scratch(rs->db[b], &s->hs) != HS_SUCCESS)
            return FD_ENOMEM;
        if (rs->sdb[b] && hs_alloc_scratch(rs->sdb[b], &s->hs) != HS_SUCCESS)
            return FD_ENOMEM;
    }
    size_t n = rs->rl.nrules ? rs->rl.nrules : 1;
    if (n > s->nrules_cap) {
        uint32_t *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b), *c = calloc(n, sizeof *c),
                 *d = calloc(n, sizeof *d), *e = calloc(n, sizeof *e), *f = calloc(n, sizeof *f);
        if (!a || !b || !c || !d || !e || !f) {
            free(a);
            free(b);
            free(c);
            free(d);
            free(e);
            free(f);
            return FD_ENOMEM;
        }
        free(s->last_gen);
        free(s->last_idx);
        free(s->cand_gen);
        free(s->cand);
        free(s->combo_gen);
        free(s->combo_idx);
        s->last_gen = a;
        s->last_idx = b;
        s->cand_gen = c;
        s->cand = d;
        s->combo_gen = e;
        s->combo_idx = f;
        s->nrules_cap = n;
        s->gen = 0;
    }
    return 0;
}

void fd__scratch_next_gen(fd_scratch *s)
{
    if (++s->gen == 0) {
        /* Stamps wrapped: clear them so no old stamp looks current. */
        memset(s->last_gen, 0, s->nrules_cap * sizeof *s->last_gen);
        memset(s->cand_gen, 0, s->nrules_cap * sizeof *s->cand_gen);
        memset(s->combo_gen, 0, s->nrules_cap * sizeof *s->combo_gen);
        s->gen = 1;
    }
    s->ncand = 0;
    s->nparts = 0;
    s->ncst = 0;
}

fd_combo_state *fd__combo_state(fd_scratch *s, uint32_t combo)
{
    if (s->combo_gen[combo] == s->gen)
        return &s->cst[s->combo_idx[combo]];
    if (s->ncst == s->ccap) {
        size_t cap = s->ccap ? s->ccap * 2 : 8;
        fd_combo_state *p = realloc(s->cst, cap * sizeof *p);
        if (!p)
            return NULL;
        s->cst = p;
        s->ccap = cap;
    }
    s->combo_gen[combo] = s->gen;
    s->combo_idx[combo] = (uint32_t)s->ncst;
    fd__combo_init(&s->cst[s->ncst], combo);
    return &s->cst[s->ncst++];
}

int fd_scratch_new(const fd_ruleset *rs, fd_scratch **out)
{
    fd_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return FD_ENOMEM;
    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jit = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    for (int b = 0; b < FD_BUF_MAX; b++)
        fd_normbuf_init(&s->nb[b]);
    if (!s->md || !s->mctx || !s->jit || scratch_fit(s, rs)) {
        fd_scratch_free(s);
        return FD_ENOMEM;
    }
    pcre2_set_match_limit(s->mctx, 1000000);
    pcre2_set_depth_limit(s->mctx, 10000);
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
    *out = s;
    return 0;
}

int fd_scratch_update(fd_scratch *s, const fd_ruleset *rs)
{
    return scratch_fit(s, rs);
}

void fd_scratch_free(fd_scratch *s)
{
    if (!s)
        return;
    hs_free_scratch(s->hs);
    free(s->last_gen);
    free(s->last_idx);
    free(s->cand_gen);
    free(s->cand);
    free(s->combo_gen);
    free(s->combo_idx);
    free(s->parts);
    free(s->cst);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit);
    for (int b = 0; b < FD_BUF_MAX; b++)
        fd_normbuf_free(&s->nb[b]);
    free(s);
}

/* One buffer being scanned, and how its offsets map to the original text. */
typedef struct scan_ctx {
    const fd_ruleset *rs;
    fd_scratch *s;
    fd_result *res;
    const char *buf; /* the buffer Hyperscan sees */
    size_t blen;
    const uint32_t *map; /* buffer offset -> original offset; NULL: identity */
    const uint8_t *gap;  /* the stripped buffer's gap flags; NULL for others */
    const char *orig;
    size_t olen;
    fd_action dropped_worst; /* worst action among dropped block/flag matches */
} scan_ctx;

/*
 * `word` rules scan the normalized text with separators kept: a match must
 * not have a word character right before or right after it. Wide (East
 * Asian) characters do not count: Chinese is written without spaces, so a
 * Latin term right next to Han characters ("我kill你") stands on its own.
 */
int fd__word_char_at(const char *buf, size_t blen, size_t off)
{
    if (!fd_norm_word_at(buf, blen, off))
        return 0;
    size_t n;
    return utf8proc_charwidth(fd_utf8_decode(buf, blen, off, &n)) < 2;
}

int fd__word_bounded(const char *buf, size_t blen, size_t from, size_t to)
{
    if (from > 0 && fd__word_char_at(buf, blen, fd_utf8_prev(buf, from)))
        return 0;
    return !fd__word_char_at(buf, blen, to);
}

/*
 * Literals of the `normalized` and `word` views scan the stripped buffer,
 * where separator noise is gone but its place is kept in the gap flags
 * (fd_normbuf.gap). A word character "joins" the one before it when both
 * are narrow word characters with no gap flag between: one written word.
 *
 * Start boundary: the match starts the text, or follows something that is
 * not a narrow word character, or follows a gap; for `word` rules a gap
 * does not count when the word before it is a single letter other than
 * `a` and `i` and so is the match's first segment (`s k i l l` is one
 * spelled-out word: `kill` does not match in it; `a k i l l` does). End boundary: the match ends
 * the text, or what follows is not a narrow word character, or a gap comes first.
 */
int fd__strip_start_ok(const char *buf, const uint8_t *gap, size_t blen, size_t from, size_t to,
                       int word)
{
    if (from == 0)
        return 1;
    size_t p = fd_utf8_prev(buf, from);
    if (!fd__word_char_at(buf, blen, p))
        return 1;
    if (!gap[from])
        return 0;
    if (!word || !fd__word_char_at(buf, blen, from))
        return 1;
    /* Spelled-out continuation: a one-letter segment before the gap, and
     * a one-letter first segment of the match. Not when that letter is one
     * of the English one-letter words `a` and `I`: `a n-i-g-g-e-r`, `I k i
     * l l` are a word and a spelled-out term. */
    int one_before = (p == 0 || gap[p] || !fd__word_char_at(buf, blen, fd_utf8_prev(buf, p))) &&
                     buf[p] != 'a' && buf[p] != 'i';
    size_t next = from + fd_utf8_len((unsigned char)buf[from]);
    int one_after = next >= to || gap[next] || !fd__word_char_at(buf, blen, next);
    return !(one_before && one_after);
}

int fd__strip_end_ok(const char *buf, const uint8_t *gap, size_t blen, size_t to)
{
    return to >= blen || gap[to] || !fd__word_char_at(buf, blen, to);
}

int fd__strip_crosses(const uint8_t *gap, size_t from, size_t to)
{
    for (size_t i = from + 1; i < to; i++)
        if (gap[i])
            return 1;
    return 0;
}

/* Append a match in original offsets, or count it as dropped past the cap. */
int fd__result_push(fd_result *res, uint32_t rule, uint32_t start, uint32_t end, uint8_t action,
                    uint8_t suppressed)
{
    if (res->n == res->cap) {
        if (res->cap >= FD_MAX_MATCHES) {
            res->dropped++;
            return 1;
        }
        size_t cap = res->cap ? res->cap * 2 : 64;
        fd_match *m = realloc(res->matches, cap * sizeof *m);
        if (!m)
            return -1;
        res->matches = m;
        res->cap = cap;
    }
    res->matches[res->n++] = (fd_match){rule, start, end, action, suppressed};
    return 0;
}

static int push_match(scan_ctx *c, uint32_t rule, size_t start, size_t end)
{
    uint8_t action = c->rs->ri[rule].action;
    int r = fd__result_push(c->res, rule, (uint32_t)start, (uint32_t)end, action, 0);
    if (r > 0 && action > c->dropped_worst)
        c->dropped_worst = action; /* dropped, but it still counts: fail closed */
    return r < 0 ? -1 : 0;
}

/* Map a buffer span to the original text: from the first byte of the
 * character that produced `from` to the end of the one that produced to-1. */
static void map_span(const scan_ctx *c, size_t from, size_t to, size_t *os, size_t *oe)
{
    if (!c->map) {
        *os = from;
        *oe = to;
        return;
    }
    *os = c->map[from];
    size_t last = c->map[to - 1];
    *oe = last + fd_utf8_len((unsigned char)c->orig[last]);
}

/*
 * Record a confirmed match [from, to) of RULE in buffer offsets. Hyperscan
 * reports a regex once per end offset; those with the same start are one
 * match, grown to its longest end, so a reply lists each match once.
 */
static int record(scan_ctx *c, uint32_t rule, size_t from, size_t to)
{
    const fd_rinfo *ri = &c->rs->ri[rule];
    if (c->gap) {
        /* Stripped buffer: word rules need both boundaries; any literal
         * that spans a gap between written words needs them too, so that
         * `of Uckfield` does not read as `fuck`. */
        int word = (ri->flags & FD_RI_WORD) != 0;
        if ((word || fd__strip_crosses(c->gap, from, to)) &&
            (!fd__strip_start_ok(c->buf, c->gap, c->blen, from, to, word) ||
             !fd__strip_end_ok(c->buf, c->gap, c->blen, to)))
            return 0;
    } else if ((ri->flags & FD_RI_WORD) && !fd__word_bounded(c->buf, c->blen, from, to)) {
        return 0;
    }
    if (ri->validator && !fd_validate(ri->validator, c->buf + from, to - from))
        return 0;
    size_t os, oe;
    map_span(c, from, to, &os, &oe);
    fd_scratch *s = c->s;
    if (ri->flags & FD_RI_PART) {
        if (s->nparts == s->pcap) {
            if (s->pcap >= FD_MAX_MATCHES)
                return 0; /* enough occurrences to decide; more change nothing */
            size_t cap = s->pcap ? s->pcap * 2 : 16;
            fd_part_occ *p = realloc(s->parts, cap * sizeof *p);
            if (!p)
                return -1;
            s->parts = p;
            s->pcap = cap;
        }
        s->parts[s->nparts++] =
            (fd_part_occ){rule, (uint32_t)os, (uint32_t)oe, (uint32_t)from, (uint32_t)to};
        return 0;
    }
    if (s->last_gen[rule] == s->gen) {
        fd_match *m = &c->res->matches[s->last_idx[rule]];
        if (m->start == os) {
            if (oe > m->end)
                m->end = (uint32_t)oe;
            return 0;
        }
    }
    size_t before = c->res->n;
    if (push_match(c, rule, os, oe))
        return -1;
    if (c->res->n > before) {
        s->last_gen[rule] = s->gen;
        s->last_idx[rule] = (uint32_t)before;
    }
    return 0;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    (void)flags;
    scan_ctx *c = ctx;
    const fd_rinfo *ri = &c->rs->ri[id];
    if (ri->flags & FD_RI_PREFILTER) {
        fd_scratch *s = c->s;
        if (s->cand_gen[id] != s->gen) {
            s->cand_gen[id] = s->gen;
            s->cand[s->ncand++] = id;
        }
        return 0;
    }
    if (ri->flags & FD_RI_LITERAL)
        from = to - ri->len;
    return record(c, id, (size_t)from, (size_t)to) ? 1 : 0;
}

/*
 * Confirm a prefiltered rule: run its exact regex over the whole buffer and
 * record every match. If PCRE2 gives up (match or depth limit on a hostile
 * text) the candidate counts as a match of the whole buffer: fail closed.
 */
static int confirm(scan_ctx *c, uint32_t rule)
{
    const fd_rinfo *ri = &c->rs->ri[rule];
    fd_scratch *s = c->s;
    size_t off = 0;
    while (off < c->blen) {
        int rc = pcre2_match(ri->re, (PCRE2_SPTR)c->buf, c->blen, off, PCRE2_NO_UTF_CHECK, s->md,
                             s->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        if (rc < 0)
            return c->blen ? record(c, rule, 0, c->blen) : 0;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        if (ov[1] > ov[0] && record(c, rule, ov[0], ov[1]))
            return -1;
        size_t next = ov[1] > off ? ov[1] : off + 1;
        while (next < c->blen && ((unsigned char)c->buf[next] & 0xC0) == 0x80)
            next++; /* stay on a character boundary */
        off = next;
    }
    return 0;
}

static int match_less(const fd_match *a, const fd_match *b)
{
    if (a->start != b->start)
        return a->start < b->start;
    if (a->end != b->end)
        return a->end < b->end;
    return a->rule < b->rule;
}

/* In-place heapsort: qsort may allocate, and the hot path must not. */
static void sift(fd_match *m, size_t i, size_t n)
{
    for (;;) {
        size_t l = 2 * i + 1, big = i;
        if (l < n && match_less(&m[big], &m[l]))
            big = l;
        if (l + 1 < n && match_less(&m[big], &m[l + 1]))
            big = l + 1;
        if (big == i)
            return;
        fd_match t = m[i];
        m[i] = m[big];
        m[big] = t;
        i = big;
    }
}

void fd__sort_matches(fd_match *m, size_t n)
{
    if (n < 2)
        return;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            fd_match t = m[i];
            size_t j = i;
            for (; j > 0 && match_less(&t, &m[j - 1]); j--)
                m[j] = m[j - 1];
            m[j] = t;
        }
        return;
    }
    for (size_t i = n / 2; i-- > 0;)
        sift(m, i, n);
    for (size_t i = n - 1; i > 0; i--) {
        fd_match t = m[0];
        m[0] = m[i];
        m[i] = t;
        sift(m, 0, i);
    }
}

static int part_less(const fd_part_occ *a, const fd_part_occ *b)
{
    if (a->end != b->end)
        return a->end < b->end;
    if (a->start != b->start)
        return a->start < b->start;
    return a->rule < b->rule;
}

/* Insertion sort: part occurrences arrive nearly in end order already. */
void fd__sort_parts(fd_part_occ *p, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        fd_part_occ t = p[i];
        size_t j = i;
        for (; j > 0 && part_less(&t, &p[j - 1]); j--)
            p[j] = p[j - 1];
        p[j] = t;
    }
}

/*
 * Suppress every block/flag match lying entirely inside an allow match, and
 * take the decision. With matches sorted by start, the allow matches that
 * start at or before a match are a prefix; it is inside one of them iff the
 * largest end among that prefix reaches its end.
 */
static fd_action resolve(fd_result *res)
{
    fd_action d = FD_ALLOW;
    size_t reach = 0;
    int any_allow = 0;
    for (size_t i = 0; i < res->n; i++) {
        fd_match *m = &res->matches[i];
        if (m->action == FD_ALLOW) {
            if (!any_allow || m->end > reach)
                reach = m->end;
            any_allow = 1;
            continue;
        }
        /* An allow starting at this same offset sorts after this match
         * only if it ends later, and then it contains it: look ahead. */
        size_t r = reach;
        int have = any_allow;
        for (size_t j = i + 1; j < res->n && res->matches[j].start == m->start; j++)
            if (res->matches[j].action == FD_ALLOW && (!have || res->matches[j].end > r)) {
                r = res->matches[j].end;
                have = 1;
            }
        if (have && r >= m->end) {
            m->suppressed = 1;
            continue;
        }
        if (m->action > d)
            d = (fd_action)m->action;
    }
    return d;
}

/* Decide the @all rules from the part occurrences of the whole scan, in
 * order of their end, as a stream decides them (combo.h). */
static int eval_combos(scan_ctx *c, const char *text, size_t len)
{
    fd_scratch *s = c->s;
    const fd_ruleset *rs = c->rs;
    fd__sort_parts(s->parts, s->nparts);
    uint32_t st, en;
    for (size_t i = 0; i < s->nparts; i++) {
        const fd_part_occ *o = &s->parts[i];
        uint32_t combo = rs->rl.rules[o->rule].combo;
        fd_combo_state *cs = fd__combo_state(s, combo);
        if (!cs)
            return -1;
        int b = rs->ri[combo].buf;
        const char *buf = b == FD_BUF_RAW ? text : s->nb[b].text;
        size_t blen = b == FD_BUF_RAW ? len : s->nb[b].len;
        if (fd__combo_add(rs, cs, o, buf, 0, (uint32_t)blen, &st, &en) &&
            push_match(c, combo, st, en))
            return -1;
    }
    for (size_t i = 0; i < s->ncst; i++)
        if (fd__combo_end(rs, &s->cst[i], &st, &en) && push_match(c, s->cst[i].combo, st, en))
            return -1;
    return 0;
}

int fd_scan(const fd_ruleset *rs, fd_scratch *s, const char *text, size_t len, fd_result *res)
{
    res->n = 0;
    res->dropped = 0;
    res->decision = FD_ALLOW;
    if (len >= UINT32_MAX)
        return FD_ETOOBIG;
    if (rs->rl.nrules > s->nrules_cap)
        return FD_ESTATE; /* scratch not updated for this rule set */
    /* Validation and normalization in as few passes as the rule set allows:
     * both normalized views in one pass that also validates, when both are
     * used (the common case). */
    fd_normbuf *keep = &s->nb[FD_BUF_KEEP], *strip = &s->nb[FD_BUF_STRIP];
    int r;
    if (rs->db[FD_BUF_KEEP] && rs->db[FD_BUF_STRIP]) {
        r = fd_norm_both_checked(text, len, keep, strip);
    } else {
        r = fd_utf8_valid(text, len) ? 0 : FD_EUTF8;
        if (!r && rs->db[FD_BUF_KEEP])
            r = fd_norm(text, len, FD_NORM_KEEP_SEP, keep);
        if (!r && rs->db[FD_BUF_STRIP])
            r = fd_norm(text, len, FD_NORM_STRIP_SEP, strip);
    }
    if (r)
        return r;
    fd__scratch_next_gen(s);

    scan_ctx c = {
        .rs = rs, .s = s, .res = res, .orig = text, .olen = len, .dropped_worst = FD_ALLOW};
    for (int b = 0; b < FD_BUF_MAX; b++) {
        if (!rs->db[b])
            continue;
        if (b == FD_BUF_RAW) {
            c.buf = text;
            c.blen = len;
            c.map = NULL;
            c.gap = NULL;
        } else {
            fd_normbuf *nb = &s->nb[b];
            c.buf = nb->text;
            c.blen = nb->len;
            c.map = nb->map;
            c.gap = b == FD_BUF_STRIP ? nb->gap : NULL;
        }
        s->ncand = 0;
        hs_error_t e = hs_scan(rs->db[b], c.buf, (unsigned)c.blen, 0, s->hs, on_match, &c);
        if (e == HS_SCAN_TERMINATED)
            return FD_ENOMEM;
        if (e != HS_SUCCESS)
            return FD_EHS;
        for (size_t i = 0; i < s->ncand; i++)
            if (confirm(&c, s->cand[i]))
                return FD_ENOMEM;
    }
    if (s->nparts && eval_combos(&c, text, len))
        return FD_ENOMEM;
    fd__sort_matches(res->matches, res->n);
    fd_action d = resolve(res);
    res->decision = d > c.dropped_worst ? d : c.dropped_worst;
    return 0;
}
