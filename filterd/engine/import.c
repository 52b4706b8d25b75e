/*
 * import.c — vendor keyword lists → rule files (see import.h).
 */
#include "import.h"

#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "norm.h"
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

typedef struct entry {
    const char *kw;
    size_t len;
    unsigned line;
    char *norm; /* normalized form, malloc'd */
    int keep;
    unsigned dup_of; /* line of the keyword kept instead */
} entry;

static int cmp_norm(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    int c = strcmp(x->norm, y->norm);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

int fd_import_keywords(const char *buf, size_t len, const fd_import_opts *o, FILE *out,
                       fd_diag *report, size_t *kept, size_t *dropped)
{
    *kept = *dropped = 0;
    char *text;
    size_t tlen;
    int r = to_utf8(buf, len, &text, &tlen);
    if (r)
        return r;
    entry *e = NULL;
    entry **byn = NULL;
    size_t n = 0, cap = 0;
    fd_normbuf nb;
    fd_normbuf_init(&nb);
    unsigned lineno = 0;
    int seen_content = 0;
    r = 0;
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
            fd_diag_add(report, o->source, lineno, "dropped: header line");
            (*dropped)++;
            continue;
        }
        const char *why = NULL;
        for (size_t i = 0; i < l && !why; i++)
            if ((unsigned char)s[i] < 0x20)
                why = "control character";
        if (!why && l > MAX_KEYWORD)
            why = "longer than 512 bytes: a sentence, not a keyword";
        if (!why) {
            if ((r = fd_norm(s, l, FD_NORM_STRIP_SEP, &nb)))
                break;
            if (!nb.len)
                why = "nothing left after normalization (only separators or invisible "
                      "characters)";
        }
        if (why) {
            fd_diag_add(report, o->source, lineno, "dropped: %s", why);
            (*dropped)++;
            continue;
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
        e[n] = (entry){s, l, lineno, strdup(nb.text), 1, 0};
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
            (*dropped)++;
        }
        for (size_t i = 0; i < n; i++)
            if (!e[i].keep)
                fd_diag_add(report, o->source, e[i].line,
                            "dropped: duplicate of line %u after normalization", e[i].dup_of);
    }
    if (!r) {
        fprintf(out,
                "# Imported from %s by filterctl rules import.\n"
                "# Keywords are literals of the normalized view: case, width, traditional\n"
                "# characters and separator noise are folded (see rules/README.md).\n"
                "@category %s\n@action %s\n",
                o->source, o->category, fd_action_name(o->action));
        for (size_t i = 0; i < n; i++) {
            if (!e[i].keep)
                continue;
            /* Lines starting with these would read as comments, directives,
             * regexes or escapes. */
            if (strchr("#@/\\", e[i].kw[0]))
                fputc('\\', out);
            fwrite(e[i].kw, 1, e[i].len, out);
            fputc('\n', out);
            (*kept)++;
        }
        if (fflush(out) != 0 || ferror(out))
            r = FD_EIO;
    }
    for (size_t i = 0; i < n; i++)
        free(e[i].norm);
    free(e);
    free(byn);
    free(text);
    return r;
}
