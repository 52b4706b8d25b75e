/*
 * lint.c — rule-set warnings (see lint.h). Duplicates and shadowing are
 * found with the rule set's own databases: each literal's normalized text
 * is scanned, and every other literal found in it is one it contains.
 */
#include "lint.h"

#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "ruleset_int.h"
#include "utf8.h"

typedef struct lint_ctx {
    const fd_ruleset *rs;
    uint32_t self; /* the literal whose text is scanned */
    uint32_t len;  /* its normalized length */
    fd_diag *diag;
    int count;
    uint8_t *reported; /* per rule: already named as a duplicate */
} lint_ctx;

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
            fd_diag_add(c->diag, fa, la, "warning: duplicate of %s:%u ('%s') after normalization",
                        fb, lb, rb->pattern);
            c->count++;
        }
        return 0;
    }
    /* In the word view a contained literal need not match on its own
     * ("kill" is not a word of "killer"), so only other views shadow. */
    if (ra->category == rb->category && ra->action == rb->action && ra->action != FD_ALLOW &&
        !rb->validator && ra->view != FD_VIEW_WORD && !c->reported[c->self]) {
        c->reported[c->self] = 1;
        fd_diag_add(c->diag, fa, la,
                    "warning: never changes a decision: it contains '%s' (%s:%u), same "
                    "category and action",
                    rb->pattern, fb, lb);
        c->count++;
    }
    return 0;
}

/* Characters in the normalized literal, and whether all are ASCII. */
static size_t nchars(const char *s, size_t n, int *ascii)
{
    size_t k = 0;
    *ascii = 1;
    for (size_t i = 0; i < n; i++) {
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
        if ((unsigned char)s[i] >= 0x80)
            *ascii = 0;
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
static int lint_regex_chars(const fd_ruleset *rs, uint32_t i, fd_normbuf *nb, fd_diag *diag)
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
            strncat(seen, r->pattern + k, l);
            n++;
        }
        k += l;
    }
    return n;
}

int fd_lint(const fd_ruleset *rs, fd_diag *diag)
{
    const fd_rulelist *rl = &rs->rl;
    lint_ctx c = {.rs = rs, .diag = diag};
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
        }
        if (r->regex && ri->buf != FD_BUF_RAW)
            c.count += lint_regex_chars(rs, i, &nb, diag);
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
        int ascii;
        size_t k = nchars(t, l, &ascii);
        if (r->action != FD_ALLOW && r->kind == FD_RULE_PATTERN &&
            ((!ascii && k <= 1) || (ascii && k <= 2 && r->view != FD_VIEW_WORD))) {
            fd_diag_add(diag, file, line,
                        "warning: literal '%s' is so short that it will match inside many "
                        "words%s",
                        r->pattern, ascii ? "; use @match word" : "");
            c.count++;
        }
        c.self = i;
        c.len = (uint32_t)l;
        hs_scan(rs->db[ri->buf], t, (unsigned)l, 0, scratch, on_hit, &c);
    }
    fd_normbuf_free(&nb);
    hs_free_scratch(scratch);
    free(c.reported);
    return c.count;
nomem:
    hs_free_scratch(scratch);
    free(c.reported);
    return FD_ENOMEM;
}
