/*
 * holdback.c — the literal-prefix automaton and the joined partial-match
 * regex that tell a stream what it must still hold back (see holdback.h).
 */
#include "holdback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_error.h"
#include "ruleset.h"
#include "utf8.h"

/* The character at P (LEN bytes left) and its length. Text and literals are
 * valid UTF-8 here; anything else still decodes deterministically, byte by
 * byte, so literal and text always agree. */
static uint32_t decode(const unsigned char *p, size_t len, size_t *n)
{
    size_t l = fd_utf8_len(p[0]);
    if (l == 1 || l > len) {
        *n = 1;
        return p[0] < 0x80 ? p[0] : 0x110000u + p[0];
    }
    uint32_t cp = p[0] & (0x7Fu >> l);
    for (size_t i = 1; i < l; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *n = 1;
            return 0x110000u + p[0];
        }
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    *n = l;
    return cp;
}

static int cmp_lit(const void *a, const void *b)
{
    const fd_hb_lit *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, m);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* The child of node S reached by CP, or 0 (the root is nobody's child). */
static uint32_t find_child(const fd_hb *h, uint32_t s, uint32_t cp)
{
    if (s == 0 && cp < 128)
        return h->root_ascii[cp];
    uint32_t lo = h->node[s].child, hi = h->node[s + 1].child;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (h->node[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < h->node[s + 1].child && h->node[lo].cp == cp ? lo : 0;
}

/*
 * The trie in breadth-first order, built level by level from the sorted
 * literals: a node stands for the literals [lo, hi) that share its text
 * (its first DEPTH bytes); its children split that range by the next
 * character, in order, so every node's children are consecutive and sorted.
 */
static int build_trie(fd_hb *h, fd_hb_lit *lit, size_t nlit)
{
    qsort(lit, nlit, sizeof *lit, cmp_lit);
    size_t cap = 1;
    for (size_t i = 0; i < nlit; i++)
        cap += lit[i].len; /* at most one node per byte */
    uint32_t *lo = malloc(cap * sizeof *lo), *hi = malloc(cap * sizeof *hi);
    uint32_t *depth = malloc(cap * sizeof *depth);
    uint8_t *flags = calloc(cap, 1); /* 1: an allow literal ends here; 2: one lies below */
    h->node = calloc(cap + 1, sizeof *h->node);
    if (!lo || !hi || !depth || !flags || !h->node) {
        free(lo), free(hi), free(depth), free(flags);
        free(h->node);
        h->node = NULL;
        return FD_ENOMEM;
    }
    uint32_t n = 1;
    lo[0] = 0, hi[0] = (uint32_t)nlit, depth[0] = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t i = lo[v], d = depth[v];
        for (; i < hi[v] && lit[i].len == d; i++)
            if (lit[i].allow)
                flags[v] |= 1;
        h->node[v].child = n;
        while (i < hi[v]) {
            size_t cl;
            uint32_t cp = decode((const unsigned char *)lit[i].s + d, lit[i].len - d, &cl);
            uint32_t j = i + 1;
            while (j < hi[v] && lit[j].len >= d + cl && memcmp(lit[j].s + d, lit[i].s + d, cl) == 0)
                j++;
            h->node[n].cp = cp;
            lo[n] = i, hi[n] = j, depth[n] = d + (uint32_t)cl;
            n++;
            i = j;
        }
    }
    h->node[n].child = n; /* the sentinel */
    h->nnodes = n;
    for (uint32_t c = h->node[0].child; c < h->node[1].child; c++)
        if (h->node[c].cp < 128)
            h->root_ascii[h->node[c].cp] = c;
    /* Failure links, breadth first: a node's link is shallower, so set. */
    for (uint32_t v = 0; v < n; v++)
        for (uint32_t c = h->node[v].child; c < h->node[v + 1].child; c++) {
            uint32_t f = 0;
            if (v != 0)
                for (uint32_t s = h->node[v].fail;; s = h->node[s].fail) {
                    uint32_t t = find_child(h, s, h->node[c].cp);
                    if (t) {
                        f = t;
                        break;
                    }
                    if (s == 0)
                        break;
                }
            h->node[c].fail = f;
        }
    /* Bottom up: whether an allow literal lies strictly below a node. */
    for (uint32_t v = n; v-- > 0;)
        for (uint32_t c = h->node[v].child; c < h->node[v + 1].child; c++)
            if (flags[c])
                flags[v] |= 2;
    h->max_live = 0;
    for (uint32_t v = 1; v < n; v++) {
        fd_hb_node *x = &h->node[v];
        x->live = h->node[v + 1].child > x->child ? depth[v] : h->node[x->fail].live;
        x->allow = (flags[v] & 2) ? depth[v] : h->node[x->fail].allow;
        if (x->live > h->max_live)
            h->max_live = x->live;
    }
    free(lo), free(hi), free(depth), free(flags);
    return 0;
}

uint32_t fd__hb_walk(const fd_hb *h, uint32_t s, const char *text, size_t len)
{
    if (!h->nnodes)
        return 0;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t cl;
        uint32_t cp = p[i] < 0x80 ? (cl = 1, p[i]) : decode(p + i, len - i, &cl);
        i += cl;
        for (;;) {
            uint32_t t = find_child(h, s, cp);
            if (t) {
                s = t;
                break;
            }
            if (s == 0)
                break;
            s = h->node[s].fail;
        }
    }
    return s;
}

int fd__hb_joinable(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\') {
            /* \K moves the start, \G anchors at the search start, \g and
             * \k name groups: not the same inside a joined pattern. */
            if (i + 1 < n && strchr("KGgk", p[i + 1]))
                return 0;
            i++;
            continue;
        }
        if (p[i] != '(' || i + 1 >= n)
            continue;
        if (p[i + 1] == '*')
            return 0; /* verbs: (*COMMIT) and the like stop other alternatives */
        if (p[i + 1] != '?' || i + 2 >= n)
            continue;
        char c = p[i + 2];
        if (c == 'R' || c == '&' || c == 'P' || c == '\'' || c == '+' || c == 'C' ||
            (c >= '0' && c <= '9') || (c == '-' && i + 3 < n && p[i + 3] >= '0' && p[i + 3] <= '9'))
            return 0; /* recursion, subroutine calls, named groups, callouts */
        if (c == '<' && i + 3 < n && p[i + 3] != '=' && p[i + 3] != '!')
            return 0; /* (?<name> */
        /* Option letters: extended mode would read our closing parenthesis
         * as part of a comment. */
        for (size_t k = i + 2;
             k < n && (p[k] == '^' || p[k] == '-' || (p[k] >= 'a' && p[k] <= 'z') ||
                       (p[k] >= 'A' && p[k] <= 'Z'));
             k++)
            if (p[k] == 'x')
                return 0;
    }
    return 1;
}

/* The options of a compiled regex as an option group opener "(?^ims:". */
static size_t opener(const pcre2_code *re, char *out)
{
    uint32_t o = 0;
    pcre2_pattern_info(re, PCRE2_INFO_ARGOPTIONS, &o);
    size_t k = 0;
    out[k++] = '(', out[k++] = '?', out[k++] = '^';
    if (o & PCRE2_CASELESS)
        out[k++] = 'i';
    if (o & PCRE2_MULTILINE)
        out[k++] = 'm';
    if (o & PCRE2_DOTALL)
        out[k++] = 's';
    out[k++] = ':';
    return k;
}

/* Compile the regexes SEL[0..N) of RX joined into one pattern that never
 * matches; NULL if PCRE2 rejects it (too large for its link size, say). */
static pcre2_code *join(const fd_hb_rx *rx, const uint32_t *sel, size_t n, int *nomem)
{
    size_t cap = 32;
    for (size_t i = 0; i < n; i++)
        cap += rx[sel[i]].len + 16;
    char *p = malloc(cap);
    if (!p) {
        *nomem = 1;
        return NULL;
    }
    size_t k = (size_t)sprintf(p, "(?|");
    for (size_t i = 0; i < n; i++) {
        if (i)
            p[k++] = '|';
        k += opener(rx[sel[i]].re, p + k);
        memcpy(p + k, rx[sel[i]].pattern, rx[sel[i]].len);
        k += rx[sel[i]].len;
        p[k++] = ')';
    }
    k += (size_t)sprintf(p + k, ")(*FAIL)");
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)p, k, PCRE2_UTF | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
    free(p);
    if (re)
        pcre2_jit_compile(re, PCRE2_JIT_PARTIAL_HARD);
    return re;
}

/* Join SEL[0..N) into as few patterns as PCRE2 takes, halving a group it
 * rejects; a single regex it rejects joined is held back by its width. */
static int join_all(fd_hb_set *set, fd_hb_rx *rx, const uint32_t *sel, size_t n, uint32_t *solo_w)
{
    if (!n)
        return 0;
    int nomem = 0;
    pcre2_code *re = join(rx, sel, n, &nomem);
    if (nomem)
        return FD_ENOMEM;
    if (re) {
        pcre2_code **c = realloc(set->code, (set->n + 1) * sizeof *c);
        if (!c) {
            pcre2_code_free(re);
            return FD_ENOMEM;
        }
        set->code = c;
        set->code[set->n++] = re;
        set->nrx += n;
        return 0;
    }
    if (n == 1) {
        rx[sel[0]].solo = 1;
        if (rx[sel[0]].width > *solo_w)
            *solo_w = rx[sel[0]].width;
        return 0;
    }
    int r = join_all(set, rx, sel, n / 2, solo_w);
    return r ? r : join_all(set, rx, sel + n / 2, n - n / 2, solo_w);
}

int fd__hb_build(fd_hb *h, fd_hb_lit *lit, size_t nlit, fd_hb_rx *rx, size_t nrx)
{
    memset(h, 0, sizeof *h);
    /* A literal that is not UTF-8 (raw literals are checked by the loader,
     * so only in theory) is held back by its width. */
    size_t k = 0;
    for (size_t i = 0; i < nlit; i++) {
        if (!fd_utf8_valid(lit[i].s, lit[i].len)) {
            if (lit[i].len > h->solo_w)
                h->solo_w = lit[i].len;
            if (lit[i].allow && lit[i].len > h->solo_allow_w)
                h->solo_allow_w = lit[i].len;
            continue;
        }
        lit[k++] = lit[i];
    }
    for (size_t i = 0; i < k; i++)
        if (lit[i].len && (lit[i].s[0] == ' ' || lit[i].s[0] == '\n'))
            h->sep_start = 1;
    int r = k ? build_trie(h, lit, k) : 0;
    if (!r && nrx) {
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        if (!md)
            r = FD_ENOMEM;
        for (size_t i = 0; i < nrx && md && !h->sep_start; i++)
            for (int c = 0; c < 2 && !h->sep_start; c++) {
                int rc = pcre2_match(rx[i].re, (PCRE2_SPTR)(c ? "\n" : " "), 1, 0,
                                     PCRE2_ANCHORED | PCRE2_PARTIAL_HARD, md, NULL);
                h->sep_start = rc >= 0 || rc == PCRE2_ERROR_PARTIAL;
            }
        pcre2_match_data_free(md);
    }
    uint32_t *sel = malloc((nrx ? nrx : 1) * sizeof *sel);
    if (!r && !sel)
        r = FD_ENOMEM;
    for (int pass = 0; pass < 2 && !r; pass++) {
        /* Pass 0: every regex (the release); pass 1: the allow ones (when
         * a block match is final). */
        size_t n = 0;
        uint32_t *solo = pass ? &h->solo_allow_w : &h->solo_w;
        for (size_t i = 0; i < nrx; i++) {
            if (pass && !rx[i].allow)
                continue;
            if (fd__hb_joinable(rx[i].pattern, rx[i].len))
                sel[n++] = (uint32_t)i;
            else if ((rx[i].solo = 1) && rx[i].width > *solo)
                *solo = rx[i].width;
        }
        r = join_all(pass ? &h->rx_allow : &h->rx, rx, sel, n, solo);
    }
    free(sel);
    if (r)
        fd__hb_free(h);
    return r;
}

void fd__hb_free(fd_hb *h)
{
    free(h->node);
    for (int p = 0; p < 2; p++) {
        fd_hb_set *set = p ? &h->rx_allow : &h->rx;
        for (size_t i = 0; i < set->n; i++)
            pcre2_code_free(set->code[i]);
        free(set->code);
    }
    memset(h, 0, sizeof *h);
}

size_t fd__hb_bytes(const fd_hb *h)
{
    size_t n = h->nnodes ? (h->nnodes + 1) * sizeof *h->node : 0, sz;
    for (int p = 0; p < 2; p++) {
        const fd_hb_set *set = p ? &h->rx_allow : &h->rx;
        for (size_t i = 0; i < set->n; i++)
            if (pcre2_pattern_info(set->code[i], PCRE2_INFO_SIZE, &sz) == 0)
                n += sz;
    }
    return n;
}

size_t fd__hb_rx_front(const pcre2_code *re, const char *text, size_t len, size_t from,
                       pcre2_match_data *md, pcre2_match_context *mctx)
{
    if (from >= len)
        return len;
    int rc = pcre2_match(re, (PCRE2_SPTR)text, len, from, PCRE2_NO_UTF_CHECK | PCRE2_PARTIAL_HARD,
                         md, mctx);
    if (rc == PCRE2_ERROR_NOMATCH)
        return len;
    if (rc == PCRE2_ERROR_PARTIAL || rc >= 0) {
        /* A complete match only through (*ACCEPT): hold it back too. */
        size_t s = pcre2_get_ovector_pointer(md)[0];
        return s < from ? from : s > len ? len : s;
    }
    return from;
}
