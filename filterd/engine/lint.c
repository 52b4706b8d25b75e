/*
 * lint.c — rule-set warnings (see lint.h). Duplicates and shadowing are
 * found with the rule set's own databases: each literal's normalized text
 * is scanned, and every other literal found in it is one it contains.
 */
#include "lint.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "norm.h"
#include "ruleset_int.h"
#include "scan.h"
#include "utf8.h"

static const struct {
    const char *name;
    int harmful;
} kinds[FD_LINT_NKINDS] = {
    {"single character", 1},
    {"digits and punctuation only", 1},
    {"matches benign text", 1},
    {"two Latin letters outside @match word", 0},
    {"duplicate", 0},
    {"never changes a decision", 0},
    {"regex with characters normalization changes", 0},
    {"unbounded width", 0},
};

const char *fd_lint_kind_name(fd_lint_kind k)
{
    return (unsigned)k < FD_LINT_NKINDS ? kinds[k].name : "?";
}

int fd_lint_harmful(fd_lint_kind k)
{
    return (unsigned)k < FD_LINT_NKINDS && kinds[k].harmful;
}

typedef struct lint_ctx {
    const fd_ruleset *rs;
    uint32_t self; /* the literal whose text is scanned */
    uint32_t len;  /* its normalized length */
    fd_diag *diag;
    int count;
    size_t *kind;      /* per fd_lint_kind */
    uint8_t *reported; /* per rule: already named as a duplicate */
    fd_normbuf other;  /* the normalized form of the other rule named */
} lint_ctx;

/* The text rule I's database holds: its normalized form (or the pattern
 * itself for raw rules and regexes), in NB; NUL-terminated. */
static const char *normalized(const fd_ruleset *rs, uint32_t i, fd_normbuf *nb)
{
    const fd_rule *r = &rs->rl.rules[i];
    const fd_rinfo *ri = &rs->ri[i];
    if (r->regex || ri->buf == FD_BUF_RAW ||
        fd_norm(r->pattern, r->pattern_len,
                ri->buf == FD_BUF_STRIP ? FD_NORM_STRIP_SEP : FD_NORM_KEEP_SEP, nb))
        return r->pattern;
    return nb->text;
}

static const char *where(const fd_ruleset *rs, uint32_t i, unsigned *line)
{
    const fd_rule *r = &rs->rl.rules[i];
    *line = r->line;
    return rs->rl.files[r->file];
}

static int on_hit(unsigned int id, unsigned long long from, unsigned long long to,
                  unsigned int flags, void *vctx)
{
    (void)flags;
    lint_ctx *c = vctx;
    const fd_ruleset *rs = c->rs;
    const fd_rinfo *a = &rs->ri[c->self], *b = &rs->ri[id];
    const fd_rule *ra = &rs->rl.rules[c->self], *rb = &rs->rl.rules[id];
    if (id == c->self || !(b->flags & FD_RI_LITERAL) || (b->flags & FD_RI_PART) ||
        (a->flags & FD_RI_PART) || b->buf != a->buf || ra->view != rb->view)
        return 0;
    unsigned la, lb;
    const char *fa = where(rs, c->self, &la), *fb = where(rs, id, &lb);
    if (from == 0 && to == c->len && b->len == c->len) {
        /* Same text: report the pair once, at the later rule. */
        if (id < c->self && !c->reported[c->self]) {
            c->reported[c->self] = 1;
            fd_diag_add(c->diag, fa, la,
                        "warning: duplicate of %s:%u ('%s') after normalization: both read '%s'",
                        fb, lb, rb->pattern, normalized(rs, id, &c->other));
            c->count++;
            c->kind[FD_LINT_DUPLICATE]++;
        }
        return 0;
    }
    /* In the word view a contained literal need not match on its own
     * ("kill" is not a word of "killer"), so only other views shadow. */
    if (ra->category == rb->category && ra->action == rb->action && ra->action != FD_ALLOW &&
        !rb->validator && ra->view != FD_VIEW_WORD && !c->reported[c->self]) {
        c->reported[c->self] = 1;
        fd_diag_add(c->diag, fa, la,
                    "warning: never changes a decision: it contains '%s' (%s:%u, reads '%s'), "
                    "same category and action",
                    rb->pattern, fb, lb, normalized(rs, id, &c->other));
        c->count++;
        c->kind[FD_LINT_SHADOWED]++;
    }
    return 0;
}

/* Characters in the normalized literal, whether all are ASCII, and
 * whether it has any letter or other word character (not only digits,
 * punctuation, symbols and spaces). */
static size_t nchars(const char *s, size_t n, int *ascii, int *wordy)
{
    size_t k = 0;
    *ascii = 1;
    *wordy = 0;
    for (size_t i = 0; i < n;) {
        size_t l;
        int32_t cp = fd_utf8_decode(s, n, i, &l);
        k++;
        if (cp >= 0x80)
            *ascii = 0;
        utf8proc_category_t cat = utf8proc_category(cp < 0 ? 0xFFFD : cp);
        if (!(cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) &&
            !(cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO) &&
            !(cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_ZP) && cp != '\n')
            *wordy = 1;
        i += l ? l : 1;
    }
    return k;
}

/*
 * A regex of a normalized view meets normalized text: a character that
 * normalization changes (a traditional or full-width character, an upper-
 * case letter, a character whose simplified form is another one, as 覆
 * reads 复) can never match as written. (ASCII upper case is matched
 * case-insensitively, see ruleset.c.) Escapes are skipped; a regex that
 * also has the normalized form ([覆复]) is taken to mean it.
 */
static int lint_regex_chars(const fd_ruleset *rs, uint32_t i, fd_normbuf *nb, fd_diag *diag,
                            size_t *kind)
{
    const fd_rule *r = &rs->rl.rules[i];
    int n = 0;
    char seen[256] = "";
    for (size_t k = 0; k < r->pattern_len;) {
        unsigned char ch = (unsigned char)r->pattern[k];
        if (ch == '\\') {
            k += 2;
            continue;
        }
        size_t l = fd_utf8_len(ch);
        if (k + l > r->pattern_len)
            break;
        if (ch >= 0x80 && !fd_norm(r->pattern + k, l, FD_NORM_KEEP_SEP, nb) &&
            (nb->len != l || memcmp(nb->text, r->pattern + k, l) != 0) && nb->len > 0 &&
            strlen(seen) + l + 1 < sizeof seen && !memmem(seen, strlen(seen), r->pattern + k, l) &&
            !memmem(r->pattern, r->pattern_len, nb->text, nb->len)) {
            unsigned line;
            const char *file = where(rs, i, &line);
            fd_diag_add(diag, file, line,
                        "warning: regex has '%.*s', which normalized text never contains (it "
                        "reads '%s'); write the normalized form",
                        (int)l, r->pattern + k, nb->text);
            kind[FD_LINT_REGEX_CHARS]++;
            strncat(seen, r->pattern + k, l);
            n++;
        }
        k += l;
    }
    return n;
}

/*
 * Rules that match paragraphs of a benign corpus: each block/flag rule is
 * named with how many paragraphs it matches (unsuppressed) and the first.
 */
static int lint_benign(const fd_ruleset *rs, const fd_benign *b, fd_diag *diag, size_t *kind)
{
    size_t n = rs->rl.nrules, nd = fd_benign_docs(b);
    size_t *hits = calloc(n ? n : 1, sizeof *hits), *last = calloc(n ? n : 1, sizeof *last);
    size_t *first = calloc(n ? n : 1, sizeof *first);
    fd_scratch *s = NULL;
    fd_result res;
    fd_result_init(&res);
    int count = 0, r = 0;
    if (!hits || !last || !first || fd_scratch_new(rs, &s))
        r = FD_ENOMEM;
    for (size_t d = 0; d < nd && !r; d++) {
        size_t len;
        const char *p = fd_benign_doc(b, d, &len);
        if ((r = fd_scan(rs, s, p, len, &res)))
            break;
        for (size_t m = 0; m < res.n; m++) {
            const fd_match *mt = &res.matches[m];
            if (mt->suppressed || mt->action == FD_ALLOW || last[mt->rule] == d + 1)
                continue;
            last[mt->rule] = d + 1;
            if (hits[mt->rule]++ == 0)
                first[mt->rule] = d;
        }
    }
    fd_normbuf nb;
    fd_normbuf_init(&nb);
    for (uint32_t i = 0; i < n && !r; i++) {
        if (!hits[i])
            continue;
        const fd_rule *ru = &rs->rl.rules[i];
        size_t len;
        const char *p = fd_benign_doc(b, first[i], &len);
        fd_diag_add(diag, rs->rl.files[ru->file], ru->line,
                    "warning: '%s' (reads '%s') matches %zu benign paragraph%s, e.g. '%.*s%s'",
                    ru->pattern, normalized(rs, i, &nb), hits[i], hits[i] == 1 ? "" : "s",
                    (int)(len > 80 ? 80 : len), p, len > 80 ? "…" : "");
        kind[FD_LINT_BENIGN]++;
        count++;
    }
    fd_normbuf_free(&nb);
    fd_result_free(&res);
    fd_scratch_free(s);
    free(hits);
    free(last);
    free(first);
    return r ? r : count;
}

int fd_lint(const fd_ruleset *rs, fd_diag *diag)
{
    size_t count[FD_LINT_NKINDS];
    return fd_lint_ex(rs, NULL, diag, count);
}

int fd_lint_ex(const fd_ruleset *rs, const fd_benign *benign, fd_diag *diag,
               size_t count[FD_LINT_NKINDS])
{
    const fd_rulelist *rl = &rs->rl;
    memset(count, 0, FD_LINT_NKINDS * sizeof *count);
    lint_ctx c = {.rs = rs, .diag = diag, .kind = count};
    fd_normbuf_init(&c.other);
    c.reported = calloc(rl->nrules ? rl->nrules : 1, 1);
    hs_scratch_t *scratch = NULL;
    for (int b = 0; b < FD_BUF_MAX; b++)
        if (rs->db[b] && hs_alloc_scratch(rs->db[b], &scratch) != HS_SUCCESS)
            goto nomem;
    if (!c.reported)
        goto nomem;
    fd_normbuf nb;
    fd_normbuf_init(&nb);
    for (uint32_t i = 0; i < rl->nrules; i++) {
        const fd_rule *r = &rl->rules[i];
        const fd_rinfo *ri = &rs->ri[i];
        unsigned line;
        const char *file = where(rs, i, &line);
        if (ri->width == FD_WIDTH_UNBOUNDED && r->kind != FD_RULE_PART) {
            fd_diag_add(diag, file, line,
                        "warning: unbounded width (%s): streams hold back at most %u bytes of "
                        "it; bound it with a narrow class ([a-z]{1,20} rather than +; a bounded "
                        "repeat of \\w or a negated class is slow to compile)",
                        r->kind == FD_RULE_COMBO ? "@all without @within" : "regex", 1024u);
            c.count++;
            count[FD_LINT_UNBOUNDED]++;
        }
        if (r->regex && ri->buf != FD_BUF_RAW)
            c.count += lint_regex_chars(rs, i, &nb, diag, count);
        if (!(ri->flags & FD_RI_LITERAL))
            continue;
        const char *t = r->pattern;
        size_t l = r->pattern_len;
        if (ri->buf != FD_BUF_RAW) {
            if (fd_norm(r->pattern, r->pattern_len,
                        ri->buf == FD_BUF_STRIP ? FD_NORM_STRIP_SEP : FD_NORM_KEEP_SEP, &nb))
                break;
            t = nb.text;
            l = nb.len;
        }
        int ascii, wordy;
        size_t k = nchars(t, l, &ascii, &wordy);
        if (r->action != FD_ALLOW && r->kind == FD_RULE_PATTERN) {
            if (k <= 1) {
                fd_diag_add(diag, file, line,
                            "warning: literal '%s' (reads '%.*s') is a single character: it "
                            "matches inside most texts",
                            r->pattern, (int)l, t);
                c.count++;
                count[FD_LINT_SINGLE]++;
            } else if (!wordy) {
                fd_diag_add(diag, file, line,
                            "warning: literal '%s' (reads '%.*s') is only digits and "
                            "punctuation: numbers occur everywhere (versions, prices, dates); "
                            "give it context with a regex",
                            r->pattern, (int)l, t);
                c.count++;
                count[FD_LINT_DIGITS]++;
            } else if (ascii && k <= 2 && r->view != FD_VIEW_WORD) {
                fd_diag_add(diag, file, line,
                            "warning: literal '%s' (reads '%.*s') is so short that it will "
                            "match inside many words; use @match word",
                            r->pattern, (int)l, t);
                c.count++;
                count[FD_LINT_SHORT]++;
            }
        }
        c.self = i;
        c.len = (uint32_t)l;
        hs_scan(rs->db[ri->buf], t, (unsigned)l, 0, scratch, on_hit, &c);
    }
    fd_normbuf_free(&nb);
    fd_normbuf_free(&c.other);
    hs_free_scratch(scratch);
    free(c.reported);
    if (benign && fd_benign_docs(benign)) {
        int r = lint_benign(rs, benign, diag, count);
        if (r < 0)
            return r;
        c.count += r;
    }
    return c.count;
nomem:
    fd_normbuf_free(&c.other);
    hs_free_scratch(scratch);
    free(c.reported);
    return FD_ENOMEM;
}
