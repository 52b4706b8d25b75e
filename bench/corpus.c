/*
 * corpus.c — bench inputs. The benign corpus is text no one here wrote
 * (Debian's fortunes and fortunes-zh); the keyword sets are synthetic but
 * seeded, so every run measures the same work.
 */
#include "corpus.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORTUNES "/usr/share/games/fortunes"

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)l + 1);
    if (b && fread(b, 1, (size_t)l, f) != (size_t)l) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[l] = '\0';
        *len = (size_t)l;
    }
    return b;
}

/* Append PATH's text to *buf with the "%" separator lines turned into
 * blank lines, so messages read like prose. */
static void append_file(const char *path, char **buf, size_t *len, size_t *cap)
{
    size_t l;
    char *t = slurp(path, &l);
    if (!t)
        return;
    if (*len + l + 2 > *cap) {
        *cap = (*len + l + 2) * 2;
        *buf = realloc(*buf, *cap);
    }
    for (size_t i = 0; i < l; i++) {
        if (t[i] == '%' && (i == 0 || t[i - 1] == '\n') && (i + 1 == l || t[i + 1] == '\n'))
            continue;
        if (t[i] == '\x1b' || (t[i] == '\b')) /* terminal escapes, overstrike */
            continue;
        (*buf)[(*len)++] = t[i];
    }
    free(t);
}

int bench_msgs_load(size_t size, size_t max, bench_msgs *out)
{
    memset(out, 0, sizeof *out);
    static const char *zh[] = {"chinese", "tang300", "song100"};
    static const char *en[] = {"wisdom",    "computers", "science", "literature", "people",
                               "humorists", "politics",  "work",    "education",  "fortunes"};
    char *cz = NULL, *ce = NULL;
    size_t lz = 0, le = 0, cpz = 0, cpe = 0;
    char path[512];
    for (size_t i = 0; i < sizeof zh / sizeof *zh; i++) {
        snprintf(path, sizeof path, FORTUNES "/%s", zh[i]);
        append_file(path, &cz, &lz, &cpz);
    }
    for (size_t i = 0; i < sizeof en / sizeof *en; i++) {
        snprintf(path, sizeof path, FORTUNES "/%s", en[i]);
        append_file(path, &ce, &le, &cpe);
    }
    if (!lz || !le) {
        free(cz);
        free(ce);
        return -1;
    }
    out->msg = calloc(max, sizeof *out->msg);
    out->len = calloc(max, sizeof *out->len);
    size_t oz = 0, oe = 0;
    /* Alternate Chinese and English messages; wrap around the corpora. */
    for (size_t k = 0; k < max; k++) {
        const char *src = (k & 1) ? ce : cz;
        size_t srclen = (k & 1) ? le : lz;
        size_t *off = (k & 1) ? &oe : &oz;
        if (*off + size >= srclen)
            *off = 0;
        size_t end = *off + size;
        if (end > srclen)
            end = srclen;
        while (end > *off && ((unsigned char)src[end] & 0xC0) == 0x80)
            end--; /* cut on a character boundary */
        size_t l = end - *off;
        out->msg[k] = malloc(l + 1);
        memcpy(out->msg[k], src + *off, l);
        out->msg[k][l] = '\0';
        out->len[k] = l;
        out->total += l;
        *off = end;
        out->n++;
    }
    free(cz);
    free(ce);
    return 0;
}

int bench_paras_load(int zh, size_t max, size_t maxlen, bench_msgs *out)
{
    static const char *zhf[] = {"chinese", "tang300", "song100"};
    static const char *enf[] = {"wisdom",    "computers", "science", "literature", "people",
                                "humorists", "politics",  "work",    "education",  "fortunes"};
    const char **files = zh ? zhf : enf;
    size_t nfiles = zh ? 3 : 10;
    memset(out, 0, sizeof *out);
    out->msg = calloc(max, sizeof *out->msg);
    out->len = calloc(max, sizeof *out->len);
    /* Round-robin over the files, so every collection is represented. */
    char *text[10] = {0};
    size_t tlen[10] = {0}, off[10] = {0};
    char path[512];
    for (size_t f = 0; f < nfiles; f++) {
        snprintf(path, sizeof path, FORTUNES "/%s", files[f]);
        text[f] = slurp(path, &tlen[f]);
    }
    for (int progress = 1; progress && out->n < max;) {
        progress = 0;
        for (size_t f = 0; f < nfiles && out->n < max; f++) {
            if (!text[f] || off[f] >= tlen[f])
                continue;
            progress = 1;
            /* One fortune: up to a line holding only "%". */
            char *b = text[f] + off[f], *e = strstr(b, "\n%\n");
            size_t l = e ? (size_t)(e - b) : tlen[f] - off[f];
            off[f] += l + (e ? 3 : 0);
            while (l && (b[0] == '\n' || b[0] == '%'))
                b++, l--;
            /* Terminal colour sequences (ESC [ … m) and overstrikes
             * (\b) are markup of the fortune file, not text. */
            char *m = malloc(l + 1);
            size_t ml = 0;
            for (size_t k = 0; m && k < l; k++) {
                if (b[k] == '\x1b') {
                    k++;
                    if (k < l && b[k] == '[')
                        while (k + 1 < l && !((b[k + 1] >= 'A' && b[k + 1] <= 'Z') ||
                                              (b[k + 1] >= 'a' && b[k + 1] <= 'z')))
                            k++;
                    k++; /* the final letter */
                    continue;
                }
                if (b[k] != '\b')
                    m[ml++] = b[k];
            }
            if (!m || ml < 8 || ml > maxlen) {
                free(m);
                continue;
            }
            m[ml] = '\0';
            out->msg[out->n] = m;
            out->len[out->n++] = ml;
            out->total += ml;
        }
    }
    for (size_t f = 0; f < nfiles; f++)
        free(text[f]);
    return out->n ? 0 : -1;
}

void bench_msgs_free(bench_msgs *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->msg[i]);
    free(m->msg);
    free(m->len);
    memset(m, 0, sizeof *m);
}

static size_t put_utf8(char *p, uint32_t cp)
{
    p[0] = (char)(0xE0 | (cp >> 12));
    p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

void bench_keywords_make(size_t n, uint64_t seed, bench_keywords *out)
{
    static const char *syl[] = {"zor", "vex",  "qua", "blim", "trok", "nax", "gref", "yul",
                                "pim", "drax", "wob", "kez",  "fum",  "jil", "snar", "thov"};
    uint64_t s = seed ? seed : 1;
    out->n = n;
    out->kw = calloc(n, sizeof *out->kw);
    for (size_t i = 0; i < n; i++) {
        char buf[128];
        size_t o = 0;
        if (i % 2 == 0) {
            /* 2–6 Han characters from the common CJK block. */
            int len = 2 + (int)(xorshift(&s) % 5);
            for (int j = 0; j < len; j++)
                o += put_utf8(buf + o, 0x4E00 + (uint32_t)(xorshift(&s) % 0x51A5));
        } else {
            /* Two or three pseudo-words: "zorvex blimnax". */
            int words = 2 + (int)(xorshift(&s) % 2);
            for (int w = 0; w < words; w++) {
                if (w)
                    buf[o++] = ' ';
                int sy = 2 + (int)(xorshift(&s) % 2);
                for (int j = 0; j < sy; j++) {
                    const char *x = syl[xorshift(&s) % 16];
                    size_t xl = strlen(x);
                    memcpy(buf + o, x, xl);
                    o += xl;
                }
            }
        }
        buf[o] = '\0';
        out->kw[i] = strdup(buf);
    }
}

void bench_keywords_free(bench_keywords *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->kw[i]);
    free(k->kw);
    memset(k, 0, sizeof *k);
}

char *bench_ruledir_make(const bench_keywords *k, size_t nregex, uint64_t seed)
{
    char tmpl[] = "/tmp/fd-bench-XXXXXX";
    if (!mkdtemp(tmpl))
        return NULL;
    char *dir = strdup(tmpl);
    char path[512];
    snprintf(path, sizeof path, "%s/categories.tsv", dir);
    FILE *f = fopen(path, "w");
    fputs("A1.8\t其他法律、行政法规禁止的内容\tOther prohibited content\t(1)\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/keywords.rules", dir);
    f = fopen(path, "w");
    fputs("@category A1.8\n@action block\n", f);
    for (size_t i = 0; i < k->n; i++)
        fprintf(f, "%s\n", k->kw[i]);
    /* Bounded regexes shaped like real ones (codes, obfuscated words),
     * each anchored on a rare literal so they rarely fire. */
    uint64_t s = seed ? seed : 7;
    fputs("@action flag\n", f);
    for (size_t i = 0; i < nregex; i++) {
        unsigned a = (unsigned)(xorshift(&s) % 1000);
        switch (i % 4) {
        case 0:
            fprintf(f, "/qx%03u[a-z]{2,4}\\d{3,6}/\n", a);
            break;
        case 1:
            fprintf(f, "/(?:vorn|zelk)%03u[- ]?[0-9a-f]{8}/i\n", a);
            break;
        case 2:
            fprintf(f, "/违禁%03u[\\x{4e00}-\\x{9fa5}]{1,3}/\n", a);
            break;
        default:
            fprintf(f, "/kz%03u\\s+(alpha|beta|gamma)\\b/\n", a);
            break;
        }
    }
    fclose(f);
    return dir;
}

void bench_ruledir_remove(char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/categories.tsv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/keywords.rules", dir);
    unlink(path);
    rmdir(dir);
    free(dir);
}
