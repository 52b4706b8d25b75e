/*
 * audit_common.c — see audit_common.h.
 */
#include "audit_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- time ---- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int fa_parse_time(const char *s, int64_t *us)
{
    int Y, M, D, h = 0, m = 0, sec = 0;
    if (strlen(s) < 10 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || M < 1 || M > 12 || D < 1 || D > 31)
        return -1;
    const char *p = s + 10;
    int64_t frac = 0, off = 0;
    if (*p) {
        if ((*p != 'T' && *p != 't' && *p != ' ') || digits(p + 1, 2, &h) || p[3] != ':' ||
            digits(p + 4, 2, &m) || p[6] != ':' || digits(p + 7, 2, &sec) || h > 23 || m > 59 ||
            sec > 60)
            return -1;
        p += 9;
        if (*p == '.') {
            int n = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, n++)
                if (n < 6)
                    frac = frac * 10 + (*p - '0');
            if (n == 0)
                return -1;
            for (; n < 6; n++)
                frac *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
                return -1;
            off = (int64_t)(oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
            p += 6;
        } else {
            return -1;
        }
        if (*p)
            return -1;
    }
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *us = ((int64_t)t - off) * 1000000 + frac;
    return 0;
}

void fa_format_time(int64_t us, char *buf, size_t n)
{
    int64_t s = us / 1000000, f = us % 1000000;
    if (f < 0) {
        f += 1000000;
        s--;
    }
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, n, "?");
        return;
    }
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)f);
}

/* ---- reader ---- */

#define FA_CHUNK (256u << 10)

int fa_reader_open(fa_reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    gzFile gz = gzdopen(fd, "rb");
    r->in = malloc(FA_CHUNK);
    r->cap = 4096;
    r->line = malloc(r->cap);
    if (!gz || !r->in || !r->line) {
        if (gz)
            gzclose(gz);
        else
            close(fd);
        free(r->in);
        free(r->line);
        memset(r, 0, sizeof *r);
        errno = ENOMEM;
        return -1;
    }
    gzbuffer(gz, FA_CHUNK);
    r->gz = gz;
    return 0;
}

/* Refill r->in; 1 data, 0 end of input, -1 error (r->err). */
static int refill(fa_reader *r)
{
    if (r->eof)
        return 0;
    int n = gzread((gzFile)r->gz, r->in, FA_CHUNK);
    if (n < 0) {
        int zerr;
        const char *m = gzerror((gzFile)r->gz, &zerr);
        snprintf(r->err, sizeof r->err, "%s",
                 zerr == Z_ERRNO ? strerror(errno) : (m && *m ? m : "decompression error"));
        return -1;
    }
    if (n == 0) {
        /* zlib returns a short read for a truncated archive and only the
         * next call fails; gzeof alone would hide it. */
        int zerr;
        const char *m = gzerror((gzFile)r->gz, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END) {
            snprintf(r->err, sizeof r->err, "%s", m && *m ? m : "decompression error");
            return -1;
        }
        r->eof = true;
        return 0;
    }
    r->ipos = 0;
    r->ilen = (size_t)n;
    return 1;
}

static int append(fa_reader *r, const char *p, size_t n)
{
    if (r->too_long)
        return 0;
    if (r->len + n > FA_MAX_LINE) {
        r->too_long = true;
        return 0;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *l = realloc(r->line, cap);
        if (!l) {
            snprintf(r->err, sizeof r->err, "out of memory");
            return -1;
        }
        r->line = l;
        r->cap = cap;
    }
    memcpy(r->line + r->len, p, n);
    r->len += n;
    return 0;
}

int fa_reader_next(fa_reader *r)
{
    r->len = 0;
    r->torn = r->too_long = false;
    bool any = false;
    for (;;) {
        if (r->ipos == r->ilen) {
            int rc = refill(r);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                if (!any)
                    return 0;
                r->torn = true;
                break;
            }
        }
        any = true;
        char *s = r->in + r->ipos;
        size_t avail = r->ilen - r->ipos;
        char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        if (append(r, s, take) != 0)
            return -1;
        r->ipos += take + (nl ? 1 : 0);
        if (nl)
            break;
    }
    r->line[r->len] = '\0';
    r->lineno++;
    return 1;
}

void fa_reader_close(fa_reader *r)
{
    if (r->gz)
        gzclose((gzFile)r->gz);
    free(r->in);
    free(r->line);
    memset(r, 0, sizeof *r);
}

/* ---- table ---- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

fa_entry *fa_table_find(const fa_table *t, const char *key)
{
    if (!t->n)
        return NULL;
    size_t j = fnv1a(key) & (t->cap - 1);
    while (t->e[j].key) {
        if (strcmp(t->e[j].key, key) == 0)
            return &t->e[j];
        j = (j + 1) & (t->cap - 1);
    }
    return NULL;
}

fa_entry *fa_table_get(fa_table *t, const char *key)
{
    if (2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        fa_entry *e = calloc(cap, sizeof *e);
        if (!e)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->e[i].key)
                continue;
            size_t j = fnv1a(t->e[i].key) & (cap - 1);
            while (e[j].key)
                j = (j + 1) & (cap - 1);
            e[j] = t->e[i];
        }
        free(t->e);
        t->e = e;
        t->cap = cap;
    }
    size_t j = fnv1a(key) & (t->cap - 1);
    while (t->e[j].key) {
        if (strcmp(t->e[j].key, key) == 0)
            return &t->e[j];
        j = (j + 1) & (t->cap - 1);
    }
    t->e[j].key = strdup(key);
    if (!t->e[j].key)
        return NULL;
    t->e[j].first_us = t->e[j].last_us = FA_NO_TIME;
    t->n++;
    return &t->e[j];
}

void fa_table_free(fa_table *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        free(t->e[i].key);
        free(t->e[i].category);
        free(t->e[i].src);
    }
    free(t->e);
    memset(t, 0, sizeof *t);
}

int fa_by_count(const void *a, const void *b)
{
    const fa_entry *x = *(fa_entry *const *)a, *y = *(fa_entry *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

int fa_by_key(const void *a, const void *b)
{
    return strcmp((*(fa_entry *const *)a)->key, (*(fa_entry *const *)b)->key);
}

fa_entry **fa_table_sorted(const fa_table *t, int (*cmp)(const void *, const void *))
{
    fa_entry **v = malloc((t->n ? t->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].key)
            v[k++] = &t->e[i];
    qsort(v, k, sizeof *v, cmp);
    return v;
}

static void set_str(char **dst, const char *s)
{
    if (!*dst && s)
        *dst = strdup(s);
}

int fa_load_names(fa_table *names, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/categories.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "filterctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *zh = strchr(line, '\t');
        if (!zh || line[0] == '#')
            continue;
        *zh++ = '\0';
        char *en = strchr(zh, '\t');
        if (en) {
            *en++ = '\0';
            char *rest = strchr(en, '\t');
            if (rest)
                *rest = '\0';
        } else { /* a two-column file: the one name serves as both */
            en = zh;
        }
        fa_entry *e = fa_table_get(names, line);
        if (!e) {
            fprintf(stderr, "filterctl: out of memory\n");
            rc = -1;
            break;
        }
        set_str(&e->category, zh);
        set_str(&e->src, en);
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- counting ---- */

const char *const fa_op_names[FA_NOPS] = {"check", "stream", "proxy", "other"};
const char *const fa_decision_names[FA_NDEC] = {"allow", "flag", "block", "other"};

void fa_stats_init(fa_stats *c, int64_t since, int64_t until)
{
    memset(c, 0, sizeof *c);
    c->since = since;
    c->until = until;
}

void fa_stats_free(fa_stats *c)
{
    fa_table_free(&c->cats);
    fa_table_free(&c->rules);
}

int fa_stats_add(fa_stats *c, const cJSON *j, int64_t *tp, int *dip)
{
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "ts");
    int64_t t = 0;
    bool have_t = cJSON_IsString(ts) && fa_parse_time(ts->valuestring, &t) == 0;
    *tp = have_t ? t : FA_NO_TIME;
    *dip = FA_OTHER;
    if (c->since != FA_NO_TIME && (!have_t || t < c->since)) {
        c->before_since++;
        return 0;
    }
    if (c->until != FA_NO_TIME && (!have_t || t >= c->until)) {
        c->after_until++;
        return 0;
    }
    c->records++;
    if (have_t) {
        if (!c->first_ts[0] || t < c->first_us) {
            c->first_us = t;
            snprintf(c->first_ts, sizeof c->first_ts, "%s", ts->valuestring);
        }
        if (!c->last_ts[0] || t > c->last_us) {
            c->last_us = t;
            snprintf(c->last_ts, sizeof c->last_ts, "%s", ts->valuestring);
        }
    }
    const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "op"));
    int oi = FA_OP_OTHER;
    for (int i = 0; i < FA_OP_OTHER; i++)
        if (op && strcmp(op, fa_op_names[i]) == 0)
            oi = i;
    c->ops[oi]++;
    const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "decision"));
    int di = FA_OTHER;
    for (int i = 0; i < FA_OTHER; i++)
        if (d && strcmp(d, fa_decision_names[i]) == 0)
            di = i;
    c->decisions[di]++;
    *dip = di;

    /* categories count records (once each), rules count matches */
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "matches");
    const cJSON *m;
    cJSON_ArrayForEach(m, ms)
    {
        const char *rule = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "rule"));
        const char *cat = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "category"));
        const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "src"));
        if (cat) {
            bool seen = false;
            for (const cJSON *p = ms->child; p != m; p = p->next) {
                const char *pc =
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "category"));
                if (pc && strcmp(pc, cat) == 0) {
                    seen = true;
                    break;
                }
            }
            if (!seen) {
                fa_entry *e = fa_table_find(&c->cats, cat);
                if (!e && c->cats.n >= FA_MAX_CATEGORIES) {
                    c->cats_other++;
                } else {
                    if (!e && !(e = fa_table_get(&c->cats, cat)))
                        return -1;
                    e->count++;
                }
            }
        }
        if (rule) {
            fa_entry *e = fa_table_find(&c->rules, rule);
            if (!e && c->rules.n >= FA_MAX_RULES) {
                c->rules_other++;
            } else {
                if (!e && !(e = fa_table_get(&c->rules, rule)))
                    return -1;
                e->count++;
                set_str(&e->category, cat);
                set_str(&e->src, src);
            }
        }
    }
    return 1;
}

/* ---- output ---- */

/* Length of the valid UTF-8 sequence at S (1-4), or 0 if invalid. */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    int n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4)
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong, surrogates */
    if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
        return 0;
    if (n == 3 && c == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))
        return 0; /* U+FFFE, U+FFFF: not XML characters */
    return n;
}

void fa_html_escape(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            s++;
            continue;
        case '<':
            fputs("&lt;", f);
            s++;
            continue;
        case '>':
            fputs("&gt;", f);
            s++;
            continue;
        case '"':
            fputs("&quot;", f);
            s++;
            continue;
        case '\'':
            fputs("&#39;", f);
            s++;
            continue;
        default:
            break;
        }
        if (*s < 0x20 && *s != '\t' && *s != '\n') {
            fputs("\xef\xbf\xbd", f);
            s++;
            continue;
        }
        int n = utf8_len(s);
        if (n == 0 || (n == 1 && *s == 0x7f)) {
            fputs("\xef\xbf\xbd", f);
            s++;
            continue;
        }
        fwrite(s, 1, (size_t)n, f);
        s += n;
    }
}
