/*
 * holdback.c — the literal-prefix automaton and the joined partial-match
 * regex that tell a stream what it must still hold back (see holdback.h).
 */
#include "holdback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_error.h"
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
    if (s == 0 && h->root_bmp)
        return cp < 0x10000 ? h->root_bmp[cp] : 0;
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
static int build_trie(fd_hb *h, fd_hb_lit *lit, size_t nlit, int outputs)
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
    if (outputs) {
        h->oend = calloc(cap + 1, sizeof *h->oend);
        h->olist = malloc((nlit ? nlit : 1) * sizeof *h->olist);
        h->dict = calloc(cap + 1, sizeof *h->dict);
        if (!h->oend || !h->olist || !h->dict) {
            free(lo), free(hi), free(depth), free(flags);
            return FD_ENOMEM;
        }
    }
    uint32_t n = 1, no = 0;
    lo[0] = 0, hi[0] = (uint32_t)nlit, depth[0] = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t i = lo[v], d = depth[v];
        if (outputs)
            h->oend[v] = no;
        for (; i < hi[v] && lit[i].len == d; i++) {
            if (lit[i].allow)
                flags[v] |= 1;
            if (outputs && lit[i].id != UINT32_MAX)
                h->olist[no++] = lit[i].id;
        }
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
    if (outputs)
        h->oend[n] = no;
    for (uint32_t c = h->node[0].child; c < h->node[1].child; c++)
        if (h->node[c].cp < 128)
            h->root_ascii[h->node[c].cp] = c;
    /* Most steps start from the root: with many children (a Chinese list
     * begins with thousands of characters), a table beats a search. Only
     * if every child is in the BMP. */
    uint32_t nroot = h->node[1].child - h->node[0].child;
    if (nroot > 16 && h->node[h->node[1].child - 1].cp < 0x10000) {
        h->root_bmp = calloc(0x10000, sizeof *h->root_bmp);
        if (h->root_bmp)
            for (uint32_t c = h->node[0].child; c < h->node[1].child; c++)
                h->root_bmp[h->node[c].cp] = c;
    }
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
    if (outputs) {
        for (uint32_t v = 1; v < n; v++) {
            uint32_t f = h->node[v].fail;
            h->dict[v] = h->oend[f + 1] > h->oend[f] ? f : h->dict[f];
        }
        for (uint32_t v = 0; v < n; v++)
            if (depth[v] > h->max_depth)
                h->max_depth = depth[v];
        h->depth = depth;
        depth = NULL;
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

uint32_t fd__hb_walk_lead(const fd_hb *h, uint32_t s, const char *text, size_t len, uint32_t at,
                          void (*fn)(void *, uint32_t, uint32_t), void *ctx)
{
    if (!h->nnodes)
        return 0;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t cl;
        uint32_t cp = p[i] < 0x80 ? (cl = 1, p[i]) : decode(p + i, len - i, &cl);
        i += cl;
        /* Lead literals are lower case: fold ASCII letters. The Kelvin
         * sign and the long s, which case-insensitive PCRE2 reads as k and
         * s, may be inside any lead literal: every regex may be in
         * progress from as far back as the longest one. */
        cp = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        if (cp == 0x212A || cp == 0x17F) {
            uint32_t e = at + (uint32_t)i, from = e > h->max_depth ? e - h->max_depth : 0;
            for (uint32_t k = 0; k < h->oend[h->nnodes]; k++)
                fn(ctx, h->olist[k], from);
        }
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
        uint32_t end = at + (uint32_t)i;
        for (uint32_t t = h->oend[s + 1] > h->oend[s] ? s : h->dict[s]; t; t = h->dict[t])
            for (uint32_t k = h->oend[t]; k < h->oend[t + 1]; k++)
                fn(ctx, h->olist[k], end - h->depth[t]);
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

/* Compile "(?^flags:R)" + TAIL with compile options OPTS, JIT for partial
 * matching; NULL if PCRE2 rejects it. */
static pcre2_code *wrap(const fd_hb_rx *rx, const char *tail, uint32_t opts, int *nomem)
{
    char *p = malloc(rx->len + 32);
    if (!p) {
        *nomem = 1;
        return NULL;
    }
    size_t k = opener(rx->re, p);
    memcpy(p + k, rx->pattern, rx->len);
    k += rx->len;
    k += (size_t)sprintf(p + k, ")%s", tail);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)p, k, PCRE2_UTF | PCRE2_NO_UTF_CHECK | opts, &ec, &eo, NULL);
    free(p);
    if (re)
        pcre2_jit_compile(re, PCRE2_JIT_PARTIAL_HARD);
    return re;
}

static int utf8_put(uint32_t cp, char *o)
{
    if (cp < 0x80)
        return o[0] = (char)cp, 1;
    if (cp < 0x800)
        return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F)), 2;
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

typedef struct pair {
    uint32_t cp, re;
} pair;

typedef struct pairs {
    pair *p;
    size_t n, cap;
} pairs;

static int add_pair(pairs *v, uint32_t cp, uint32_t re)
{
    if (v->n == v->cap) {
        size_t c = v->cap ? 2 * v->cap : 1024;
        pair *q = realloc(v->p, c * sizeof *q);
        if (!q)
            return FD_ENOMEM;
        v->p = q;
        v->cap = c;
    }
    v->p[v->n++] = (pair){cp, re};
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->cp != y->cp)
        return x->cp < y->cp ? -1 : 1;
    return (x->re > y->re) - (x->re < y->re);
}

static int push_u32(uint32_t **v, uint32_t *n, uint32_t x)
{
    uint32_t *q = realloc(*v, (*n + 1) * sizeof *q);
    if (!q)
        return FD_ENOMEM;
    *v = q;
    q[(*n)++] = x;
    return 0;
}

/* Whether the start of a match of the regex depends on the text before it
 * in a way a one-character test cannot see: a positive look-behind, \B. */
static int needs_context(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == '\\') {
            if (p[i + 1] == 'B')
                return 1;
            i++;
            continue;
        }
        if (p[i] == '(' && i + 3 < n && p[i + 1] == '?' && p[i + 2] == '<' && p[i + 3] == '=')
            return 1;
    }
    return 0;
}

/*
 * The first characters of regex RX (index K in re[]): every code point up
 * to U+FFFF whose UTF-8 lead byte PCRE2's start information allows, kept
 * if the anchored regex matches it or reaches its end (a partial match).
 * Characters beyond U+FFFF are not enumerated: their lead bytes put the
 * regex on the `wide` list.
 */
static int first_chars(fd_hb *h, const fd_hb_rx *rx, uint32_t k, pairs *v)
{
    if (needs_context(rx->pattern, rx->len))
        return push_u32(&h->any, &h->nany, k);
    uint8_t lead[256] = {0};
    uint32_t type = 0, unit = 0, opts = 0;
    const uint8_t *map = NULL;
    pcre2_pattern_info(rx->re, PCRE2_INFO_FIRSTCODETYPE, &type);
    pcre2_pattern_info(rx->re, PCRE2_INFO_ARGOPTIONS, &opts);
    if (type == 1 && !(opts & PCRE2_CASELESS)) {
        pcre2_pattern_info(rx->re, PCRE2_INFO_FIRSTCODEUNIT, &unit);
        lead[unit & 0xFF] = 1;
    } else if (type == 0 && pcre2_pattern_info(rx->re, PCRE2_INFO_FIRSTBITMAP, &map) == 0 && map) {
        for (int c = 0; c < 256; c++)
            lead[c] = (map[c / 8] >> (c % 8)) & 1;
    } else {
        memset(lead, 1, sizeof lead);
    }
    int nomem = 0;
    pcre2_code *anch = wrap(rx, "", PCRE2_ANCHORED, &nomem);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!anch || !md) {
        pcre2_code_free(anch);
        pcre2_match_data_free(md);
        if (nomem || !md)
            return FD_ENOMEM;
        return push_u32(&h->any, &h->nany, k); /* cannot test: any character */
    }
    /* \b and negative look-behinds see the character before: try the
     * start after nothing, after a word character and after a space. */
    static const char *const ctx[] = {"", "a", " "};
    int nctx = 1;
    for (size_t i = 0; i + 2 < rx->len; i++)
        if ((rx->pattern[i] == '\\' && rx->pattern[i + 1] == 'b') ||
            (rx->pattern[i] == '(' && rx->pattern[i + 1] == '?' && rx->pattern[i + 2] == '<'))
            nctx = 3;
    int r = 0, wide = 0;
    for (uint32_t c = 0; c < 256 && !r; c++) {
        if (!lead[c])
            continue;
        uint32_t lo, hi;
        if (c < 0x80)
            lo = hi = c;
        else if (c >= 0xC2 && c <= 0xDF)
            lo = (c & 0x1F) << 6, hi = lo + 63;
        else if (c >= 0xE0 && c <= 0xEF)
            lo = (c & 0x0F) << 12, hi = lo + 4095, lo = lo < 0x800 ? 0x800 : lo;
        else {
            wide |= c >= 0xF0 && c <= 0xF4;
            continue;
        }
        for (uint32_t cp = lo; cp <= hi && !r; cp++) {
            if (cp >= 0xD800 && cp <= 0xDFFF)
                continue;
            char b[8];
            for (int x = 0; x < nctx; x++) {
                size_t cl = strlen(ctx[x]);
                memcpy(b, ctx[x], cl);
                int l = utf8_put(cp, b + cl);
                int rc = pcre2_match(anch, (PCRE2_SPTR)b, cl + (size_t)l, cl, PCRE2_PARTIAL_HARD,
                                     md, NULL);
                if (rc >= 0 || rc == PCRE2_ERROR_PARTIAL) {
                    r = add_pair(v, cp, k);
                    break;
                }
            }
        }
    }
    if (!r && wide)
        r = push_u32(&h->wide, &h->nwide, k);
    pcre2_match_data_free(md);
    pcre2_code_free(anch);
    return r;
}

/* The first-character index from the (code point, regex) pairs. */
static int index_firsts(fd_hb *h, pairs *v)
{
    if (v->n)
        qsort(v->p, v->n, sizeof *v->p, cmp_pair);
    h->list = malloc((v->n ? v->n : 1) * sizeof *h->list);
    size_t uniq = 0;
    for (size_t i = 0; i < v->n; i++)
        uniq += (i == 0 || v->p[i].cp != v->p[i - 1].cp) && v->p[i].cp >= 128;
    h->hcap = 16;
    while (h->hcap < 2 * uniq)
        h->hcap *= 2;
    h->hkey = malloc(h->hcap * sizeof *h->hkey);
    h->hoff = malloc(h->hcap * sizeof *h->hoff);
    h->hcnt = malloc(h->hcap * sizeof *h->hcnt);
    if (!h->list || !h->hkey || !h->hoff || !h->hcnt)
        return FD_ENOMEM;
    memset(h->hkey, 0xFF, h->hcap * sizeof *h->hkey);
    uint32_t a = 0;
    for (size_t i = 0; i < v->n; i++)
        h->list[i] = v->p[i].re;
    for (uint32_t c = 0; c <= 128; c++) {
        h->aoff[c] = a;
        while (c < 128 && a < v->n && v->p[a].cp == c)
            a++;
    }
    for (size_t i = a; i < v->n;) {
        size_t j = i;
        while (j < v->n && v->p[j].cp == v->p[i].cp)
            j++;
        uint32_t slot = (v->p[i].cp * 2654435761u) & (h->hcap - 1);
        while (h->hkey[slot] != UINT32_MAX)
            slot = (slot + 1) & (h->hcap - 1);
        h->hkey[slot] = v->p[i].cp;
        h->hoff[slot] = (uint32_t)i;
        h->hcnt[slot] = (uint32_t)(j - i);
        i = j;
    }
    return 0;
}

void fd__hb_firsts(const fd_hb *h, uint32_t cp, const uint32_t **a, size_t *na, const uint32_t **b,
                   size_t *nb)
{
    *a = h->list, *na = 0;
    *b = h->any, *nb = h->nany;
    if (cp < 128) {
        *a = h->list + h->aoff[cp];
        *na = h->aoff[cp + 1] - h->aoff[cp];
        return;
    }
    if (cp > 0xFFFF) {
        *a = h->wide, *na = h->nwide;
        return;
    }
    if (!h->hcap)
        return;
    for (uint32_t slot = (cp * 2654435761u) & (h->hcap - 1); h->hkey[slot] != UINT32_MAX;
         slot = (slot + 1) & (h->hcap - 1))
        if (h->hkey[slot] == cp) {
            *a = h->list + h->hoff[slot];
            *na = h->hcnt[slot];
            return;
        }
}

uint32_t fd__hb_decode(const unsigned char *p, size_t len, size_t *n)
{
    return decode(p, len, n);
}

/* Index of the parenthesis closing the group opened at P[I], or N. */
static size_t close_paren(const char *p, size_t n, size_t i)
{
    int depth = 0, cls = 0;
    for (; i < n; i++) {
        if (p[i] == '\\') {
            i++;
            continue;
        }
        if (cls) {
            cls = p[i] != ']';
            continue;
        }
        if (p[i] == '[') {
            cls = 1;
            if (i + 1 < n && p[i + 1] == ']')
                i++;
            else if (i + 2 < n && p[i + 1] == '^' && p[i + 2] == ']')
                i += 2;
        } else if (p[i] == '(') {
            depth++;
        } else if (p[i] == ')' && --depth == 0) {
            return i;
        }
    }
    return n;
}

/* One literal character at P[I] (an escaped punctuation character or a
 * character that is no metacharacter): its bytes (*OUT, *OL) and length
 * in the pattern; 0 if none. */
static size_t lit_char(const char *p, size_t n, size_t i, const char **out, size_t *ol)
{
    unsigned char c = (unsigned char)p[i];
    if (c == '\\') {
        unsigned char e = i + 1 < n ? (unsigned char)p[i + 1] : 0;
        if (e && e < 0x80 && !(e >= '0' && e <= '9') && !(e >= 'a' && e <= 'z') &&
            !(e >= 'A' && e <= 'Z') && e != '_' && e != ' ') {
            *out = p + i + 1, *ol = 1;
            return 2;
        }
        return 0;
    }
    if (c < 0x80 && strchr("^$.|?*+()[]{}", c))
        return 0;
    size_t l = fd_utf8_len(c);
    if (i + l > n)
        return 0;
    *out = p + i, *ol = l;
    return l;
}

/* Whether the item ending at P[I] is made optional (or repeatable from
 * zero) by a quantifier there. */
static int optional_at(const char *p, size_t n, size_t i)
{
    return i < n && (p[i] == '?' || p[i] == '*' || (p[i] == '{' && i + 1 < n && p[i + 1] == '0') ||
                     (p[i] == '{' && i + 1 < n && p[i + 1] == ','));
}

/* A set of literal prefixes being built: each string, and whether it is
 * still the whole text of the items read so far (only those may grow). */
#define LEAD_MAX     64 /* strings */
#define LEAD_MAX_LEN 48 /* bytes each: long enough to be rare */

typedef struct lead_set {
    char s[LEAD_MAX][LEAD_MAX_LEN];
    uint8_t len[LEAD_MAX];
    uint8_t whole[LEAD_MAX];
    size_t n;
} lead_set;

static size_t seq_leads(const char *p, size_t i, size_t end, lead_set *out, int depth);

/* Where the item at P[I] (a character, escape, class or group) ends. */
static size_t item_end(const char *p, size_t n, size_t i)
{
    if (p[i] == '(')
        return close_paren(p, n, i) + 1;
    if (p[i] == '[') {
        size_t c = i + 1;
        if (c < n && p[c] == '^')
            c++;
        if (c < n && p[c] == ']')
            c++;
        while (c < n && p[c] != ']')
            c += p[c] == '\\' ? 2 : 1;
        return c + 1;
    }
    if (p[i] == '\\')
        return i + 2;
    return i + fd_utf8_len((unsigned char)p[i]);
}

/* The alternatives of the group P[A..E) (E at its closing parenthesis),
 * each read as a sequence: the union of their prefixes in OUT. */
static int alt_leads(const char *p, size_t a, size_t e, lead_set *out, int depth)
{
    out->n = 0;
    for (size_t k = a; k <= e;) {
        size_t j = k;
        int lvl = 0;
        for (; j < e; j = item_end(p, e + 1, j)) {
            if (p[j] == '|' && lvl == 0)
                break;
        }
        lead_set one;
        if (!seq_leads(p, k, j, &one, depth + 1) || out->n + one.n > LEAD_MAX)
            return 0;
        for (size_t x = 0; x < one.n; x++) {
            memcpy(out->s[out->n], one.s[x], one.len[x]);
            out->len[out->n] = one.len[x];
            out->whole[out->n++] = one.whole[x];
        }
        k = j + 1;
    }
    return out->n > 0;
}

/*
 * The prefixes every match of the items P[I..END) begins with: literal
 * characters are appended while every string is still whole; a required
 * group multiplies the set by its alternatives' prefixes (while it stays
 * small); an optional item ends the strings there. Returns how many (all
 * non-empty), 0 when the items do not show them plainly (a class, an
 * escape class, case-insensitive groups).
 */
static size_t seq_leads(const char *p, size_t i, size_t end, lead_set *out, int depth)
{
    out->n = 1;
    out->len[0] = 0;
    out->whole[0] = 1;
    if (depth > 4)
        return 0;
    while (i < end) {
        int all_whole = 1;
        for (size_t x = 0; x < out->n; x++)
            all_whole &= out->whole[x];
        if (!all_whole)
            break;
        /* zero-width items */
        if (p[i] == '^' || p[i] == '$') {
            i++;
            continue;
        }
        if (p[i] == '\\' && i + 1 < end && strchr("bBAzZG", p[i + 1])) {
            i += 2;
            continue;
        }
        if (i + 2 < end && p[i] == '(' && p[i + 1] == '?' &&
            (p[i + 2] == '=' || p[i + 2] == '!' ||
             (p[i + 2] == '<' && i + 3 < end && (p[i + 3] == '=' || p[i + 3] == '!')))) {
            i = close_paren(p, end, i) + 1;
            continue;
        }
        size_t ie = item_end(p, end, i);
        if (ie > end)
            return 0;
        int opt = optional_at(p, end, ie);
        const char *c;
        size_t cl;
        if (p[i] == '(') {
            size_t a = i + 1, e = ie - 1;
            if (a < end && p[a] == '?') {
                /* (?: and (?i: — the lead automaton folds ASCII case */
                if (a + 1 < end && p[a + 1] == ':')
                    a += 2;
                else if (a + 2 < end && p[a + 1] == 'i' && p[a + 2] == ':')
                    a += 3;
                else
                    return 0; /* other options, names, …: not plain */
            }
            lead_set alts;
            if (!alt_leads(p, a, e, &alts, depth))
                return 0;
            if (opt) {
                /* Optional: the group's prefixes, or what follows it. */
                int empty = 0;
                for (size_t x = 0; x < out->n; x++)
                    empty |= out->len[x] == 0;
                if (!empty) {
                    for (size_t x = 0; x < out->n; x++)
                        out->whole[x] = 0;
                    break;
                }
                lead_set rest;
                if (!seq_leads(
                        p, ie + (p[ie] == '{' ? (size_t)(strchr(p + ie, '}') - (p + ie)) + 1 : 1),
                        end, &rest, depth + 1) ||
                    alts.n + rest.n > LEAD_MAX)
                    return 0;
                *out = alts;
                for (size_t x = 0; x < rest.n; x++) {
                    memcpy(out->s[out->n], rest.s[x], rest.len[x]);
                    out->len[out->n] = rest.len[x];
                    out->whole[out->n++] = 0;
                }
                for (size_t x = 0; x < out->n; x++)
                    out->whole[x] = 0;
                break;
            }
            if (out->n * alts.n > LEAD_MAX) {
                for (size_t x = 0; x < out->n; x++)
                    out->whole[x] = 0;
                break;
            }
            lead_set prod;
            prod.n = 0;
            for (size_t x = 0; x < out->n; x++)
                for (size_t y = 0; y < alts.n; y++) {
                    size_t l = out->len[x] + alts.len[y];
                    if (l > LEAD_MAX_LEN) {
                        l = out->len[x]; /* long enough: keep it, ended */
                        memcpy(prod.s[prod.n], out->s[x], l);
                        prod.len[prod.n] = (uint8_t)l;
                        prod.whole[prod.n++] = 0;
                        continue;
                    }
                    memcpy(prod.s[prod.n], out->s[x], out->len[x]);
                    memcpy(prod.s[prod.n] + out->len[x], alts.s[y], alts.len[y]);
                    prod.len[prod.n] = (uint8_t)l;
                    prod.whole[prod.n++] = alts.whole[y];
                }
            *out = prod;
            /* A repeated group ({2}, +) is whole once: what follows may
             * be another repetition. */
            if (p[ie] == '+' || p[ie] == '{')
                for (size_t x = 0; x < out->n; x++)
                    out->whole[x] = 0;
            i = ie;
            if (i < end && (p[i] == '+' || p[i] == '{'))
                i = item_end(p, end, i);
            continue;
        }
        size_t step = lit_char(p, end, i, &c, &cl);
        if (!step || opt || out->len[0] + cl > LEAD_MAX_LEN) {
            for (size_t x = 0; x < out->n; x++)
                out->whole[x] = 0;
            break;
        }
        for (size_t x = 0; x < out->n; x++) {
            memcpy(out->s[x] + out->len[x], c, cl);
            out->len[x] = (uint8_t)(out->len[x] + cl);
        }
        i += step;
        if (i < end && (p[i] == '+' || p[i] == '{')) {
            for (size_t x = 0; x < out->n; x++)
                out->whole[x] = 0; /* repeated: the prefix is whole once */
            break;
        }
    }
    for (size_t x = 0; x < out->n; x++)
        if (!out->len[x])
            return 0;
    return out->n;
}

/* Whether a string of LS[0..N) has a byte beyond ASCII. */
static int x_nonascii(const lead_set *ls, size_t n)
{
    for (size_t x = 0; x < n; x++)
        for (size_t k = 0; k < ls->len[x]; k++)
            if ((unsigned char)ls->s[x][k] >= 0x80)
                return 1;
    return 0;
}

/* The lead literals of regex P (see holdback.h) into LIT (at most
 * LEAD_MAX) with their bytes in BUF (LEAD_MAX * LEAD_MAX_LEN); returns
 * how many, 0 when the pattern does not show them plainly. */
static size_t lead_literals(const char *p, size_t n, int caseless, char *buf, fd_hb_lit *lit)
{
    /* No alternation at the top level: a|b begins with either. */
    for (size_t k = 0; k < n; k = item_end(p, n, k)) {
        if (p[k] == '|')
            return 0;
        if (item_end(p, n, k) > n)
            return 0;
    }
    lead_set *ls = malloc(sizeof *ls);
    if (!ls)
        return 0;
    size_t got = seq_leads(p, 0, n, ls, 0);
    /* The lead automaton folds ASCII case (and the two non-ASCII letters
     * that fold to ASCII ones); other letters of a case-insensitive regex
     * could be written in another case than in the pattern. */
    if ((caseless || memmem(p, n, "(?i", 3)) && x_nonascii(ls, got))
        got = 0;
    for (size_t x = 0; x < got; x++) {
        char *d = buf + x * LEAD_MAX_LEN;
        for (size_t k = 0; k < ls->len[x]; k++)
            d[k] =
                ls->s[x][k] >= 'A' && ls->s[x][k] <= 'Z' ? (char)(ls->s[x][k] + 32) : ls->s[x][k];
        lit[x] = (fd_hb_lit){d, ls->len[x], 0, 0};
    }
    free(ls);
    return got;
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
    int r = 0;
    pairs v = {0};
    fd_hb_lit *leads = NULL;
    size_t nlead = 0, lcap = 0, nlbufs = 0;
    char **lbufs = NULL;
    if (!r && nrx) {
        h->re = calloc(nrx, sizeof *h->re);
        if (!h->re)
            r = FD_ENOMEM;
    }
    pcre2_match_data *md = nrx ? pcre2_match_data_create(1, NULL) : NULL;
    if (!r && nrx && !md)
        r = FD_ENOMEM;
    for (size_t i = 0; i < nrx && !r; i++) {
        int nomem = 0;
        pcre2_code *code =
            fd__hb_joinable(rx[i].pattern, rx[i].len) ? wrap(&rx[i], "(*FAIL)", 0, &nomem) : NULL;
        if (nomem) {
            r = FD_ENOMEM;
            break;
        }
        /* Whether a match can begin with a separator byte. */
        for (int c = 0; c < 2 && !h->sep_start; c++) {
            int rc = pcre2_match(rx[i].re, (PCRE2_SPTR)(c ? "\n" : " "), 1, 0,
                                 PCRE2_ANCHORED | PCRE2_PARTIAL_HARD, md, NULL);
            h->sep_start = rc >= 0 || rc == PCRE2_ERROR_PARTIAL;
        }
        if (!code) {
            rx[i].solo = 1;
            if (rx[i].width > h->solo_w)
                h->solo_w = rx[i].width;
            if (rx[i].allow && rx[i].width > h->solo_allow_w)
                h->solo_allow_w = rx[i].width;
            continue;
        }
        uint32_t idx = h->nre++;
        h->re[idx] = (fd_hb_re){code, rx[i].allow};
        uint32_t opts = 0;
        pcre2_pattern_info(rx[i].re, PCRE2_INFO_ARGOPTIONS, &opts);
        size_t got = 0;
        {
            size_t want = nlead + LEAD_MAX;
            if (want > lcap) {
                lcap = 2 * want;
                fd_hb_lit *nl = realloc(leads, lcap * sizeof *leads);
                if (!nl) {
                    r = FD_ENOMEM;
                    break;
                }
                leads = nl;
            }
            char **nb = realloc(lbufs, (nlbufs + 1) * sizeof *lbufs);
            if (nb)
                lbufs = nb;
            char *b = nb ? malloc(LEAD_MAX * LEAD_MAX_LEN) : NULL;
            if (!b) {
                r = FD_ENOMEM;
                break;
            }
            lbufs[nlbufs++] = b;
            got = lead_literals(rx[i].pattern, rx[i].len, (opts & PCRE2_CASELESS) != 0, b,
                                leads + nlead);
        }
        for (size_t j = 0; j < got; j++) {
            leads[nlead + j].allow = rx[i].allow;
            leads[nlead + j].id = idx;
        }
        nlead += got;
        if (!got)
            r = first_chars(h, &rx[i], idx, &v);
    }
    /* One automaton over the literals and the regexes' lead literals, with
     * ASCII case folded (as the walk folds the text): a literal's outputs
     * are none, a lead literal's its regex. */
    char *folded = NULL;
    fd_hb_lit *all = NULL;
    if (!r && k + nlead) {
        size_t bytes = 0;
        for (size_t i = 0; i < k; i++)
            bytes += lit[i].len;
        folded = malloc(bytes ? bytes : 1);
        all = malloc((k + nlead) * sizeof *all);
        if (!folded || !all)
            r = FD_ENOMEM;
        for (size_t i = 0, o = 0; i < k && !r; i++) {
            for (size_t j = 0; j < lit[i].len; j++) {
                char ch = lit[i].s[j];
                folded[o + j] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
            }
            all[i] = (fd_hb_lit){folded + o, lit[i].len, lit[i].allow, UINT32_MAX};
            o += lit[i].len;
        }
        if (!r) {
            if (nlead)
                memcpy(all + k, leads, nlead * sizeof *all);
            r = build_trie(h, all, k + nlead, 1);
        }
    }
    free(folded);
    free(all);
    for (size_t j = 0; j < nlbufs; j++)
        free(lbufs[j]);
    free(lbufs);
    free(leads);
    pcre2_match_data_free(md);
    if (!r && h->nre)
        r = index_firsts(h, &v);
    free(v.p);
    if (r)
        fd__hb_free(h);
    return r;
}

void fd__hb_free(fd_hb *h)
{
    free(h->node);
    free(h->root_bmp);
    free(h->depth);
    free(h->oend);
    free(h->olist);
    free(h->dict);
    for (uint32_t i = 0; i < h->nre; i++)
        pcre2_code_free(h->re[i].code);
    free(h->re);
    free(h->hkey);
    free(h->hoff);
    free(h->hcnt);
    free(h->list);
    free(h->any);
    free(h->wide);
    memset(h, 0, sizeof *h);
}

size_t fd__hb_bytes(const fd_hb *h)
{
    size_t n = h->nnodes ? (h->nnodes + 1) * sizeof *h->node : 0, sz;
    if (h->root_bmp)
        n += 0x10000 * sizeof *h->root_bmp;
    if (h->depth)
        n += (size_t)h->nnodes * 3 * sizeof(uint32_t) + h->oend[h->nnodes] * sizeof(uint32_t);
    for (uint32_t i = 0; i < h->nre; i++)
        if (pcre2_pattern_info(h->re[i].code, PCRE2_INFO_SIZE, &sz) == 0)
            n += sz;
    n += (size_t)h->hcap * 3 * sizeof(uint32_t) + (h->aoff[128] + h->nany + h->nwide) * 4;
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
    if (rc == PCRE2_ERROR_PARTIAL) {
        size_t s = pcre2_get_ovector_pointer(md)[0];
        return s < from ? from : s > len ? len : s;
    }
    return from; /* a limit, or a complete match (only through (*ACCEPT)) */
}
