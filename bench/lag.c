/*
 * lag.c — fd_bench's stream release figures: how far the release point
 * trails the text received, and how soon a block is reported, with the
 * exact policy (the default) and the widest-rule baseline in the same run.
 *
 * Lag: each fortune of fortunes-zh and of the English fortunes streamed in
 * chunks of 3 characters; after every chunk, bytes received − bytes
 * released. Block delay: a blocked keyword inserted at a seeded random
 * character position of a fortune; bytes received when the stream reports
 * the block − end of the earliest-ending blocking match of the whole text,
 * and whether the report came later than the chunk that brings 64 bytes
 * past that end (or the close, when the text ends first).
 */
#include "lag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ruleset_int.h"
#include "stream.h"
#include "utf8.h"

#define CHUNK_CHARS 3

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* End of the chunk of CHUNK_CHARS characters starting at POS. */
static size_t chunk_end(const char *t, size_t len, size_t pos)
{
    for (int k = 0; k < CHUNK_CHARS && pos < len; k++)
        pos += fd_utf8_len((unsigned char)t[pos]);
    return pos < len ? pos : len;
}

typedef struct u32v {
    uint32_t *v;
    size_t n, cap;
} u32v;

static void push(u32v *a, uint32_t x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 4096;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        if (!a->v)
            abort();
    }
    a->v[a->n++] = x;
}

static void summarize(u32v *a, lag_stats *o)
{
    o->samples = a->n;
    if (!a->n)
        return;
    qsort(a->v, a->n, sizeof *a->v, cmp_u32);
    o->median = a->v[a->n / 2];
    o->p99 = a->v[(size_t)(0.99 * (double)(a->n - 1))];
    o->max = a->v[a->n - 1];
}

void lag_run(fd_ruleset *rs, fd_scratch *s, const bench_msgs *p, fd_stream_policy pol, lag_stats *o)
{
    memset(o, 0, sizeof *o);
    u32v lag = {0};
    fd_result res;
    fd_result_init(&res);
    for (size_t i = 0; i < p->n; i++) {
        fd_stream *st = NULL;
        if (fd_stream_open(rs, s, 0, &st))
            continue;
        fd_stream_set_policy(st, pol);
        o->streams++;
        const char *t = p->msg[i];
        size_t len = p->len[i];
        uint64_t rel = 0;
        for (size_t pos = 0; pos < len;) {
            size_t end = chunk_end(t, len, pos);
            if (fd_stream_feed(st, s, t + pos, end - pos, &res, &rel))
                break;
            if (fd_stream_blocked(st)) {
                o->blocked++;
                break;
            }
            push(&lag, (uint32_t)(end - rel));
            if (rel < len && ((unsigned char)t[rel] & 0xC0) == 0x80)
                o->mid_char++;
            pos = end;
        }
        fd_stream_close(st, s, &res, &rel);
        fd_stream_free(st);
    }
    summarize(&lag, o);
    free(lag.v);
    fd_result_free(&res);
}

void block_run(fd_ruleset *rs, fd_scratch *s, const bench_msgs *p, const bench_keywords *kw,
               size_t tries, fd_stream_policy pol, block_stats *o)
{
    memset(o, 0, sizeof *o);
    u32v delay = {0};
    fd_result res, whole;
    fd_result_init(&res);
    fd_result_init(&whole);
    uint64_t seed = 0x5EEDF00Dull;
    char *t = NULL;
    size_t tcap = 0;
    for (size_t i = 0; i < tries && p->n && kw->n; i++) {
        const char *para = p->msg[i % p->n];
        size_t plen = p->len[i % p->n];
        const char *k = kw->kw[xs(&seed) % kw->n];
        size_t klen = strlen(k);
        /* A seeded random character boundary of the paragraph. */
        size_t cut = xs(&seed) % (plen + 1);
        while (cut < plen && ((unsigned char)para[cut] & 0xC0) == 0x80)
            cut++;
        size_t len = plen + klen;
        if (len + 1 > tcap) {
            tcap = 2 * (len + 1);
            t = realloc(t, tcap);
            if (!t)
                abort();
        }
        memcpy(t, para, cut);
        memcpy(t + cut, k, klen);
        memcpy(t + cut + klen, para + cut, plen - cut);
        if (fd_scan(rs, s, t, len, &whole) || whole.decision != FD_BLOCK)
            continue; /* an allow rule took it, or it did not survive the cut */
        uint32_t e = UINT32_MAX;
        for (size_t m = 0; m < whole.n; m++)
            if (whole.matches[m].action == FD_BLOCK && !whole.matches[m].suppressed &&
                whole.matches[m].end < e)
                e = whole.matches[m].end;
        fd_stream *st = NULL;
        if (fd_stream_open(rs, s, 0, &st))
            continue;
        fd_stream_set_policy(st, pol);
        uint64_t rel = 0;
        size_t at = len, bound = len;
        for (size_t pos = 0; pos < len;) {
            size_t end = chunk_end(t, len, pos);
            if (bound == len && end >= (size_t)e + 64)
                bound = end;
            if (fd_stream_feed(st, s, t + pos, end - pos, &res, &rel))
                break;
            if (fd_stream_blocked(st)) {
                at = end;
                break;
            }
            pos = end;
        }
        if (!fd_stream_blocked(st))
            fd_stream_close(st, s, &res, &rel);
        o->texts++;
        if (fd_stream_decision(st) == FD_BLOCK) {
            push(&delay, (uint32_t)(at - e));
            if (at > bound)
                o->late++;
        } else {
            o->missed++;
        }
        fd_stream_free(st);
    }
    lag_stats ls = {0};
    summarize(&delay, &ls);
    o->median = ls.median;
    o->p99 = ls.p99;
    o->max = ls.max;
    free(delay.v);
    free(t);
    fd_result_free(&res);
    fd_result_free(&whole);
}

void block_keywords(const fd_ruleset *rs, bench_keywords *out)
{
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    out->n = 0;
    out->kw = calloc(rl->nrules ? rl->nrules : 1, sizeof *out->kw);
    for (size_t i = 0; i < rl->nrules; i++) {
        const fd_rule *r = &rl->rules[i];
        if (r->kind == FD_RULE_PATTERN && !r->regex && r->action == FD_BLOCK &&
            r->view != FD_VIEW_RAW)
            out->kw[out->n++] = strdup(r->pattern);
    }
}

/* Write KW as a rule directory: Han keywords as normalized literals, the
 * Latin/digit ones as `word` literals (as `filterctl rules import` does).
 * LINE2KW (lines of the rule file + 1 entries) maps a line to its keyword. */
static char *vendor_dir(const bench_keywords *kw, size_t **line2kw)
{
    char tmpl[] = "/tmp/fd-bench-vendor-XXXXXX";
    if (!mkdtemp(tmpl))
        return NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/categories.tsv", tmpl);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs("A1.8\t其他法律、行政法规禁止的内容\tOther prohibited content\t(1)\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/vendor.rules", tmpl);
    f = fopen(path, "w");
    if (!f)
        return NULL;
    *line2kw = calloc(kw->n + 8, sizeof **line2kw);
    size_t line = 0;
    fputs("@category A1.8\n@action block\n", f);
    line += 2;
    for (int latin = 0; latin < 2; latin++) {
        fputs(latin ? "@match word\n" : "@match normalized\n", f);
        line++;
        for (size_t i = 0; i < kw->n; i++) {
            if (((unsigned char)kw->kw[i][0] < 0x80) != latin)
                continue;
            fprintf(f, "%s\n", kw->kw[i]);
            (*line2kw)[++line] = i;
        }
    }
    fclose(f);
    return strdup(tmpl);
}

static void vendor_dir_remove(char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/categories.tsv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/vendor.rules", dir);
    unlink(path);
    rmdir(dir);
    free(dir);
}

fd_ruleset *vendor_make(size_t n, const bench_msgs *zh, const bench_msgs *en, bench_keywords *out,
                        size_t *dropped)
{
    /* Han characters as often as the Chinese corpus uses them: vendor
     * lists are made of common characters, not of rare ones. */
    uint32_t *han = NULL;
    size_t nhan = 0, hcap = 0;
    for (size_t i = 0; i < zh->n; i++)
        for (size_t k = 0; k < zh->len[i];) {
            size_t l;
            int32_t cp = fd_utf8_decode(zh->msg[i], zh->len[i], k, &l);
            if (cp >= 0x4E00 && cp <= 0x9FFF) {
                if (nhan == hcap) {
                    hcap = hcap ? 2 * hcap : 65536;
                    han = realloc(han, hcap * sizeof *han);
                    if (!han)
                        abort();
                }
                han[nhan++] = (uint32_t)cp;
            }
            k += l ? l : 1;
        }
    if (!nhan)
        return NULL;
    static const char *syl[] = {"qq", "vx",   "av",  "sm",      "gay", "fa",   "lun", "dafa",
                                "tg", "porn", "xxx", "caonima", "sb",  "nmsl", "bt",  "3p"};
    uint64_t seed = 0xC0FFEEull;
    out->n = n;
    out->kw = calloc(n, sizeof *out->kw);
    for (size_t i = 0; i < n; i++) {
        char b[64];
        size_t o = 0;
        unsigned r = (unsigned)(xs(&seed) % 100);
        if (r < 88) {
            int len = 2 + (int)(xs(&seed) % 5);
            for (int j = 0; j < len; j++) {
                uint32_t cp = han[xs(&seed) % nhan];
                b[o++] = (char)(0xE0 | (cp >> 12));
                b[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                b[o++] = (char)(0x80 | (cp & 0x3F));
            }
        } else {
            /* Latin/digit words: a slang stem and digits or another stem. */
            o += (size_t)sprintf(b + o, "%s", syl[xs(&seed) % 16]);
            if (xs(&seed) % 2)
                o += (size_t)sprintf(b + o, "%u", (unsigned)(xs(&seed) % 1000));
            else
                o += (size_t)sprintf(b + o, "%s", syl[xs(&seed) % 16]);
        }
        b[o] = '\0';
        out->kw[i] = strdup(b);
    }
    free(han);
    /* Drop what matches the benign corpus, as `rules import --benign` would
     * send it to review: then a benign stream is never blocked. */
    *dropped = 0;
    for (int round = 0; round < 2; round++) {
        size_t *line2kw = NULL;
        char *dir = vendor_dir(out, &line2kw);
        fd_ruleset *rs = NULL;
        fd_diag diag = FD_DIAG_INIT;
        int r = dir ? fd_ruleset_load(dir, &rs, &diag) : -1;
        fd_diag_free(&diag);
        if (dir)
            vendor_dir_remove(dir);
        if (r) {
            free(line2kw);
            return NULL;
        }
        if (round == 1) {
            free(line2kw);
            return rs;
        }
        fd_scratch *s = NULL;
        fd_result res;
        fd_result_init(&res);
        uint8_t *hit = calloc(out->n, 1);
        if (fd_scratch_new(rs, &s) || !hit)
            abort();
        for (int c = 0; c < 2; c++) {
            const bench_msgs *m = c ? en : zh;
            for (size_t i = 0; i < m->n; i++)
                if (!fd_scan(rs, s, m->msg[i], m->len[i], &res))
                    for (size_t k = 0; k < res.n; k++)
                        hit[line2kw[fd_ruleset_rule(rs, res.matches[k].rule)->line]] = 1;
        }
        size_t k = 0;
        for (size_t i = 0; i < out->n; i++) {
            if (hit[i]) {
                free(out->kw[i]);
                (*dropped)++;
            } else {
                out->kw[k++] = out->kw[i];
            }
        }
        out->n = k;
        free(hit);
        free(line2kw);
        fd_result_free(&res);
        fd_scratch_free(s);
        fd_ruleset_unref(rs);
    }
    return NULL;
}
