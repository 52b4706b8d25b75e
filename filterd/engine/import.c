/*
 * import.c — vendor keyword lists → rule files (see import.h).
 *
 * The benign gate compiles the keywords that survived the drop rules into a
 * rule set exactly as they would be written, and scans every paragraph of
 * the corpus with the engine's own scanner: a keyword is reviewed for what
 * the daemon would really do with it (word boundaries, normalization), not
 * for a substring test that could disagree.
 */
#include "import.h"

#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <utf8proc.h>

#include "norm.h"
#include "ruleset.h"
#include "scan.h"
#include "utf8.h"

#define MAX_KEYWORD 512 /* bytes: longer lines are sentences, not keywords */

/* Convert BUF from encoding FROM to UTF-8 with iconv (glibc knows GB18030
 * and UTF-16); malloc'd result in *out, or NULL when it is not FROM. */
static char *convert(const char *from, const char *buf, size_t len, size_t *outlen)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return NULL;
    size_t cap = len * 2 + 16;
    char *out = malloc(cap), *o = out;
    char *in = (char *)buf;
    size_t inleft = len, outleft = cap;
    int ok = out != NULL;
    while (ok && inleft) {
        if (iconv(cd, &in, &inleft, &o, &outleft) == (size_t)-1) {
            ok = 0;
        }
    }
    iconv_close(cd);
    if (!ok) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)(o - out);
    return out;
}

/* The list as UTF-8 without a BOM: a malloc'd copy in *text. */
static int to_utf8(const char *buf, size_t len, char **text, size_t *tlen)
{
    const unsigned char *u = (const unsigned char *)buf;
    const char *from = NULL;
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        buf += 3;
        len -= 3;
    } else if (len >= 2 && u[0] == 0xFF && u[1] == 0xFE) {
        from = "UTF-16";
    } else if (len >= 2 && u[0] == 0xFE && u[1] == 0xFF) {
        from = "UTF-16";
    }
    if (!from && fd_utf8_valid(buf, len)) {
        *text = malloc(len + 1);
        if (!*text)
            return FD_ENOMEM;
        memcpy(*text, buf, len);
        (*text)[len] = '\0';
        *tlen = len;
        return 0;
    }
    *text = convert(from ? from : "GB18030", buf, len, tlen);
    if (!*text || !fd_utf8_valid(*text, *tlen)) {
        free(*text);
        *text = NULL;
        return FD_EUTF8;
    }
    return 0;
}

static int is_header(const char *s, size_t l)
{
    static const char *names[] = {"keyword", "keywords", "word",   "words", "term", "terms",
                                  "关键词",  "关键字",   "敏感词", "词语",  "词条", "词汇"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == l && strncasecmp(s, names[i], l) == 0)
            return 1;
    return 0;
}

/* Trim ASCII white space and U+3000 (ideographic space) on both sides. */
static void trim(const char **s, size_t *l)
{
    for (;;) {
        if (*l && (**s == ' ' || **s == '\t' || **s == '\r')) {
            (*s)++, (*l)--;
        } else if (*l >= 3 && memcmp(*s, "\xE3\x80\x80", 3) == 0) {
            *s += 3, *l -= 3;
        } else {
            break;
        }
    }
    for (;;) {
        if (*l && ((*s)[*l - 1] == ' ' || (*s)[*l - 1] == '\t' || (*s)[*l - 1] == '\r'))
            (*l)--;
        else if (*l >= 3 && memcmp(*s + *l - 3, "\xE3\x80\x80", 3) == 0)
            *l -= 3;
        else
            break;
    }
}

/* ---- the benign corpus ---- */

typedef struct bdoc {
    size_t off, len; /* in the corpus text */
    uint32_t name;   /* index into names */
    uint32_t line;   /* first line of the paragraph in its file */
} bdoc;

struct fd_benign {
    char *text; /* every paragraph, each followed by a NUL */
    size_t len, cap;
    bdoc *docs;
    size_t n, dcap;
    char **names;
    size_t nnames;
};

int fd_benign_new(fd_benign **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : FD_ENOMEM;
}

void fd_benign_free(fd_benign *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nnames; i++)
        free(b->names[i]);
    free(b->names);
    free(b->docs);
    free(b->text);
    free(b);
}

size_t fd_benign_docs(const fd_benign *b)
{
    return b ? b->n : 0;
}

const char *fd_benign_doc(const fd_benign *b, size_t i, size_t *len)
{
    *len = b->docs[i].len;
    return b->text + b->docs[i].off;
}

static int blank_line(const char *s, size_t l)
{
    for (size_t i = 0; i < l; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
            return 0;
    return 1;
}

/* Append the paragraph S[0..L) (starting at LINE of file NAME). */
static int add_doc(fd_benign *b, uint32_t name, uint32_t line, const char *s, size_t l)
{
    while (l && strchr(" \t\r\n\f\v", s[l - 1]))
        l--;
    if (blank_line(s, l))
        return 0;
    if (b->len + l + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (cap < b->len + l + 1)
            cap *= 2;
        char *t = realloc(b->text, cap);
        if (!t)
            return FD_ENOMEM;
        b->text = t;
        b->cap = cap;
    }
    if (b->n == b->dcap) {
        size_t cap = b->dcap ? b->dcap * 2 : 1024;
        bdoc *d = realloc(b->docs, cap * sizeof *d);
        if (!d)
            return FD_ENOMEM;
        b->docs = d;
        b->dcap = cap;
    }
    memcpy(b->text + b->len, s, l);
    b->text[b->len + l] = '\0';
    b->docs[b->n++] = (bdoc){b->len, l, name, line};
    b->len += l + 1;
    return 0;
}

int fd_benign_add(fd_benign *b, const char *name, const char *buf, size_t len)
{
    if (!fd_utf8_valid(buf, len))
        return FD_EUTF8;
    char **nn = realloc(b->names, (b->nnames + 1) * sizeof *nn);
    if (!nn)
        return FD_ENOMEM;
    b->names = nn;
    if (!(b->names[b->nnames] = strdup(name)))
        return FD_ENOMEM;
    uint32_t id = (uint32_t)b->nnames++;
    const char *para = NULL; /* start of the paragraph being read */
    uint32_t para_line = 0, line = 0;
    const char *end = buf + len;
    for (const char *p = buf; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        line++;
        size_t l = (size_t)(e - p);
        int brk = blank_line(p, l) || (l == 1 && *p == '%') || (l == 2 && !memcmp(p, "%\r", 2));
        if (brk) {
            if (para && add_doc(b, id, para_line, para, (size_t)(p - para)))
                return FD_ENOMEM;
            para = NULL;
        } else if (!para) {
            para = p;
            para_line = line;
        }
        p = nl ? nl + 1 : end;
    }
    if (para && add_doc(b, id, para_line, para, (size_t)(end - para)))
        return FD_ENOMEM;
    return 0;
}

/* ---- classification of one keyword ---- */

static const char *const reason_names[FD_IMP_NREASONS] = {
    "header line",
    "control character",
    "longer than 512 bytes",
    "nothing left after normalization",
    "only enclosed or circled forms",
    "a single character after normalization",
    "only digits, punctuation or symbols",
    "already a rule in --rules",
    "duplicate after normalization",
};

const char *fd_import_reason_name(fd_import_reason r)
{
    return (unsigned)r < FD_IMP_NREASONS ? reason_names[r] : "?";
}

/* The code point at S[*I] (S[0..L) is valid UTF-8) into *CP, advancing
 * *I; 0 at the end. */
static int next_cp(const char *s, size_t l, size_t *i, utf8proc_int32_t *cp)
{
    if (*i >= l)
        return 0;
    utf8proc_ssize_t k =
        utf8proc_iterate((const utf8proc_uint8_t *)s + *i, (utf8proc_ssize_t)(l - *i), cp);
    if (k <= 0)
        return 0;
    *i += (size_t)k;
    return 1;
}

/* A control character of the line as read (C0 but TAB, DEL, C1): the
 * normalizer removes DEL, so `b<DEL>` would become the one-letter rule `b`. */
static int has_control(const char *s, size_t l)
{
    utf8proc_int32_t cp;
    for (size_t i = 0; next_cp(s, l, &i, &cp);) {
        if (utf8proc_category(cp) == UTF8PROC_CATEGORY_CC)
            return 1;
    }
    return 0;
}

/* Enclosed Alphanumerics, dingbat circled digits, Enclosed CJK Letters and
 * Months, and their supplements: NFKC unwraps them (`㈠` → `(一)`, `①` →
 * `1`), so a keyword of them alone matches the plain characters. */
static int enclosed(utf8proc_int32_t c)
{
    return (c >= 0x2460 && c <= 0x24FF) || (c >= 0x2776 && c <= 0x2793) ||
           (c >= 0x3200 && c <= 0x32FF) || (c >= 0x1F100 && c <= 0x1F2FF);
}

static int only_enclosed(const char *s, size_t l)
{
    int any = 0;
    utf8proc_int32_t cp;
    for (size_t i = 0; next_cp(s, l, &i, &cp);) {
        if (cp == ' ' || cp == 0x3000)
            continue;
        if (!enclosed(cp))
            return 0;
        any = 1;
    }
    return any;
}

/* Letters of alphabetic scripts that write spaces between words: Latin
 * (with its extensions and IPA), Greek, Cyrillic, Armenian. */
static int spaced_letter(utf8proc_int32_t c)
{
    return c < 0x0590 || (c >= 0x1D00 && c <= 0x1FFF) || (c >= 0x2C60 && c <= 0x2C7F) ||
           (c >= 0xA640 && c <= 0xA69F) || (c >= 0xA720 && c <= 0xA7FF) ||
           (c >= 0xAB30 && c <= 0xAB6F) || (c >= 0xFB00 && c <= 0xFB17);
}

typedef struct shape {
    size_t chars;   /* code points */
    int letters;    /* letters (L*) */
    int spaced;     /* all letters are spaced_letter() */
    int non_symbol; /* a character that is neither digit, punctuation, symbol nor space */
} shape;

static shape shape_of(const char *s, size_t l)
{
    shape sh = {0, 0, 1, 0};
    utf8proc_int32_t cp;
    for (size_t i = 0; next_cp(s, l, &i, &cp);) {
        sh.chars++;
        utf8proc_category_t k = utf8proc_category(cp);
        if (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) {
            sh.letters++;
            if (!spaced_letter(cp))
                sh.spaced = 0;
        }
        if (!(k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO) &&
            !(k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO) &&
            !(k >= UTF8PROC_CATEGORY_SM && k <= UTF8PROC_CATEGORY_SO) &&
            !(k >= UTF8PROC_CATEGORY_ZS && k <= UTF8PROC_CATEGORY_ZP) && cp != '\n')
            sh.non_symbol = 1;
    }
    return sh;
}

typedef struct entry {
    const char *kw;
    size_t len;
    unsigned line;
    char *norm; /* normalized form (the normalized view's), malloc'd */
    int word;   /* written with @match word */
    int keep;
    unsigned dup_of; /* line of the keyword kept instead */
    size_t benign;   /* benign paragraphs it matches */
    size_t last_doc; /* 1 + the last paragraph counted */
    char *example;   /* "FILE:LINE: …excerpt…", malloc'd */
} entry;

static int cmp_norm(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    int c = strcmp(x->norm, y->norm);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* ---- rules already in use ---- */

typedef struct known {
    char *norm;
    const char *file;
    unsigned line;
} known;

static int cmp_known(const void *a, const void *b)
{
    return strcmp(((const known *)a)->norm, ((const known *)b)->norm);
}

/* The literal rules of RL, normalized as keywords are, sorted. */
static int known_rules(const fd_rulelist *rl, known **out, size_t *n, fd_normbuf *nb)
{
    *out = NULL;
    *n = 0;
    if (!rl || !rl->nrules)
        return 0;
    known *k = calloc(rl->nrules, sizeof *k);
    if (!k)
        return FD_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < rl->nrules; i++) {
        const fd_rule *r = &rl->rules[i];
        if (r->regex || r->kind != FD_RULE_PATTERN)
            continue;
        if (r->view == FD_VIEW_RAW) {
            k[m].norm = strndup(r->pattern, r->pattern_len);
        } else {
            if (fd_norm(r->pattern, r->pattern_len, FD_NORM_STRIP_SEP, nb))
                goto nomem;
            k[m].norm = strdup(nb->text);
        }
        if (!k[m].norm)
            goto nomem;
        k[m].file = rl->files[r->file];
        k[m].line = r->line;
        m++;
    }
    qsort(k, m, sizeof *k, cmp_known);
    *out = k;
    *n = m;
    return 0;
nomem:
    for (size_t i = 0; i < m; i++)
        free(k[i].norm);
    free(k);
    return FD_ENOMEM;
}

/* ---- the benign gate ---- */

/* Write entry E as a rule line (escaped) to F. */
static void put_keyword(FILE *f, const entry *e)
{
    /* Lines starting with these would read as comments, directives,
     * regexes or escapes. */
    if (strchr("#@/\\", e->kw[0]))
        fputc('\\', f);
    fwrite(e->kw, 1, e->len, f);
    fputc('\n', f);
}

/* One line of text around [S, E) of paragraph P (LEN bytes), on character
 * boundaries, with control characters as spaces. */
static char *excerpt(const char *name, unsigned line, const char *p, size_t len, size_t s, size_t e)
{
    enum { CTX = 30 };
    size_t a = s > CTX ? s - CTX : 0, z = e + CTX < len ? e + CTX : len;
    while (a > 0 && ((unsigned char)p[a] & 0xC0) == 0x80)
        a--;
    while (z < len && ((unsigned char)p[z] & 0xC0) == 0x80)
        z++;
    size_t cap = strlen(name) + 32 + (z - a) + 8;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    int k = snprintf(out, cap, "%s:%u: %s", name, line, a ? "…" : "");
    char *o = out + k;
    for (size_t i = a; i < z; i++) {
        /* control characters (line breaks, terminal escapes) as spaces */
        char ch = ((unsigned char)p[i] < 0x20 || p[i] == 0x7F) ? ' ' : p[i];
        if (ch != ' ' || o[-1] != ' ')
            *o++ = ch; /* one space for a run of white space */
    }
    if (z < len) {
        memcpy(o, "…", 3);
        o += 3;
    }
    *o = '\0';
    return out;
}

/*
 * Compile the kept entries as the rule file would have them and count, per
 * entry, the paragraphs of the corpus that it matches (with one example).
 */
static int benign_gate(entry *e, size_t n, const fd_import_opts *o, fd_diag *report,
                       fd_import_stats *st)
{
    char *text = NULL, *cats = NULL;
    size_t tlen = 0, clen = 0;
    FILE *f = open_memstream(&text, &tlen);
    FILE *c = open_memstream(&cats, &clen);
    uint32_t *by_line = NULL;
    fd_rulelist rl;
    fd_rulelist_init(&rl);
    fd_ruleset *rs = NULL;
    fd_scratch *scr = NULL;
    fd_result res;
    fd_result_init(&res);
    int r = 0;
    if (!f || !c) {
        if (f)
            fclose(f);
        if (c)
            fclose(c);
        free(text);
        free(cats);
        return FD_ENOMEM;
    }
    fprintf(c, "%s\tbenign\tbenign\t(1)\n", o->category);
    fclose(c);
    /* line -> entry: lines 1, 2 are directives */
    by_line = malloc((2 * n + 4) * sizeof *by_line);
    if (!by_line) {
        fclose(f);
        r = FD_ENOMEM;
        goto out;
    }
    unsigned line = 0;
    for (int word = 0; word < 2; word++) {
        fprintf(f, "@match %s\n", word ? "word" : "normalized");
        by_line[++line] = UINT32_MAX;
        if (!word) {
            fprintf(f, "@category %s\n", o->category);
            by_line[++line] = UINT32_MAX;
        }
        for (size_t i = 0; i < n; i++) {
            if (!e[i].keep || e[i].word != word)
                continue;
            put_keyword(f, &e[i]);
            by_line[++line] = (uint32_t)i;
        }
    }
    if (fclose(f) != 0) {
        r = FD_ENOMEM;
        goto out;
    }
    if ((r = fd_rules_parse_categories(&rl, "categories.tsv", cats, clen, report)) ||
        (r = fd_rules_parse_file(&rl, "import", text, tlen, report)) ||
        (r = fd_ruleset_compile(&rl, &rs, report)) || (r = fd_scratch_new(rs, &scr)))
        goto out;
    const fd_benign *b = o->benign;
    for (size_t d = 0; d < b->n; d++) {
        const bdoc *doc = &b->docs[d];
        const char *p = b->text + doc->off;
        if ((r = fd_scan(rs, scr, p, doc->len, &res)))
            goto out;
        for (size_t m = 0; m < res.n; m++) {
            const fd_rule *ru = fd_ruleset_rule(rs, res.matches[m].rule);
            uint32_t k = ru && ru->line <= line ? by_line[ru->line] : UINT32_MAX;
            if (k == UINT32_MAX || e[k].last_doc == d + 1)
                continue;
            e[k].last_doc = d + 1;
            if (e[k].benign++ == 0 &&
                !(e[k].example = excerpt(b->names[doc->name], doc->line, p, doc->len,
                                         res.matches[m].start, res.matches[m].end))) {
                r = FD_ENOMEM;
                goto out;
            }
        }
    }
    st->benign_docs = b->n;
out:
    fd_result_free(&res);
    fd_scratch_free(scr);
    fd_ruleset_unref(rs);
    fd_rulelist_free(&rl);
    free(by_line);
    free(text);
    free(cats);
    return r;
}

/* ---- the import ---- */

static void drop(fd_diag *report, const fd_import_opts *o, fd_import_stats *st, unsigned line,
                 fd_import_reason why, const char *detail)
{
    fd_diag_add(report, o->source, line, "dropped: %s%s", reason_names[why], detail ? detail : "");
    st->reason[why]++;
    st->dropped++;
}

int fd_import_keywords(const char *buf, size_t len, const fd_import_opts *o, FILE *out,
                       fd_diag *report, fd_import_stats *st)
{
    memset(st, 0, sizeof *st);
    char *text;
    size_t tlen;
    int r = to_utf8(buf, len, &text, &tlen);
    if (r)
        return r;
    entry *e = NULL;
    entry **byn = NULL;
    known *kn = NULL;
    size_t n = 0, cap = 0, nkn = 0;
    fd_normbuf nb;
    fd_normbuf_init(&nb);
    r = known_rules(o->existing, &kn, &nkn, &nb);
    unsigned lineno = 0;
    int seen_content = 0;
    char detail[600];
    for (char *p = text; p < text + tlen && !r;) {
        char *nl = memchr(p, '\n', (size_t)(text + tlen - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(text + tlen - p);
        const char *s = p;
        p += l + (nl ? 1 : 0);
        lineno++;
        const char *tab = memchr(s, '\t', l);
        if (tab)
            l = (size_t)(tab - s); /* first field of a tab-separated line */
        trim(&s, &l);
        if (!l)
            continue;
        if (!seen_content++ && is_header(s, l)) {
            drop(report, o, st, lineno, FD_IMP_HEADER, NULL);
            continue;
        }
        if (has_control(s, l)) {
            drop(report, o, st, lineno, FD_IMP_CONTROL, NULL);
            continue;
        }
        if (l > MAX_KEYWORD) {
            drop(report, o, st, lineno, FD_IMP_TOO_LONG, ": a sentence, not a keyword");
            continue;
        }
        if ((r = fd_norm(s, l, FD_NORM_STRIP_SEP, &nb)))
            break;
        if (!nb.len) {
            drop(report, o, st, lineno, FD_IMP_EMPTY, " (only separators or invisible characters)");
            continue;
        }
        /* Every reason below is about what the rule would match: show it. */
        snprintf(detail, sizeof detail, " ('%.*s' reads '%s')", (int)l, s, nb.text);
        if (only_enclosed(s, l)) {
            drop(report, o, st, lineno, FD_IMP_ENCLOSED, detail);
            continue;
        }
        shape sh = shape_of(nb.text, nb.len);
        if (sh.chars == 1) {
            drop(report, o, st, lineno, FD_IMP_SINGLE, detail);
            continue;
        }
        if (!sh.non_symbol) {
            drop(report, o, st, lineno, FD_IMP_DIGITS, detail);
            continue;
        }
        if (nkn) {
            known key = {nb.text, NULL, 0};
            const known *k = bsearch(&key, kn, nkn, sizeof *kn, cmp_known);
            if (k) {
                snprintf(detail, sizeof detail, " (%s:%u)", k->file, k->line);
                drop(report, o, st, lineno, FD_IMP_EXISTING, detail);
                continue;
            }
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            entry *ne = realloc(e, cap * sizeof *e);
            if (!ne) {
                r = FD_ENOMEM;
                break;
            }
            e = ne;
        }
        e[n] =
            (entry){s, l, lineno, strdup(nb.text), sh.letters > 0 && sh.spaced, 1, 0, 0, 0, NULL};
        if (!e[n].norm) {
            r = FD_ENOMEM;
            break;
        }
        n++;
    }
    fd_normbuf_free(&nb);
    if (!r && n) {
        byn = malloc(n * sizeof *byn);
        if (!byn)
            r = FD_ENOMEM;
    }
    if (!r && n) {
        for (size_t i = 0; i < n; i++)
            byn[i] = &e[i];
        qsort(byn, n, sizeof *byn, cmp_norm);
        /* Sorted by (normalized, line): the first of each run is kept. */
        size_t run = 0;
        for (size_t i = 1; i < n; i++) {
            if (strcmp(byn[i]->norm, byn[run]->norm) != 0) {
                run = i;
                continue;
            }
            byn[i]->keep = 0;
            byn[i]->dup_of = byn[run]->line;
        }
        for (size_t i = 0; i < n; i++)
            if (!e[i].keep) {
                snprintf(detail, sizeof detail, " (of line %u)", e[i].dup_of);
                drop(report, o, st, e[i].line, FD_IMP_DUPLICATE, detail);
            }
    }
    if (!r && n && o->benign && fd_benign_docs(o->benign))
        r = benign_gate(e, n, o, report, st);
    if (!r) {
        fprintf(out,
                "# Imported from %s by filterctl rules import.\n"
                "# Keywords are literals of the normalized view: case, width, traditional\n"
                "# characters and separator noise are folded (see rules/README.md); those\n"
                "# written in a spaced alphabet (Latin, Greek, Cyrillic) match whole words.\n",
                o->source);
        if (o->benign)
            fprintf(out,
                    "# Lines starting \"#? \" matched more than %zu paragraphs of benign text:\n"
                    "# review each, and remove its \"#? \" to make it a rule.\n",
                    o->benign_max);
        fprintf(out, "@category %s\n@action %s\n", o->category, fd_action_name(o->action));
        for (int word = 0; word < 2; word++) {
            size_t here = 0;
            for (size_t i = 0; i < n; i++)
                here += e[i].keep && e[i].word == word;
            if (!here)
                continue;
            if (word)
                fputs("@match word\n", out);
            for (size_t i = 0; i < n; i++) {
                if (!e[i].keep || e[i].word != word || e[i].benign > o->benign_max)
                    continue;
                put_keyword(out, &e[i]);
                st->imported++;
                st->word += (size_t)word;
            }
            for (size_t i = 0; i < n; i++) {
                if (!e[i].keep || e[i].word != word || e[i].benign <= o->benign_max)
                    continue;
                fprintf(out, "# review: %s:%u: %zu benign paragraph%s, e.g. %s\n#? ", o->source,
                        e[i].line, e[i].benign, e[i].benign == 1 ? "" : "s", e[i].example);
                put_keyword(out, &e[i]);
                st->review++;
            }
        }
        if (fflush(out) != 0 || ferror(out))
            r = FD_EIO;
    }
    for (size_t i = 0; i < n; i++) {
        free(e[i].norm);
        free(e[i].example);
    }
    for (size_t i = 0; i < nkn; i++)
        free(kn[i].norm);
    free(kn);
    free(e);
    free(byn);
    free(text);
    return r;
}
