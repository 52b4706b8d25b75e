/*
 * hotpath.c — fd_bench: the engine's hot path against baselines, one
 * thread, in process, all in the same run (these machines are shared and
 * noisy: ratios between figures of one run are what to read).
 *
 *   (a) raw hs_scan of the rule set's own databases over the original
 *       text, with a callback that only counts: the ceiling;
 *   (b) the full path, fd_scan(): validate, normalize, scan, confirm,
 *       resolve, decide;
 *   (c) PCRE2-JIT with one alternation of all the keywords;
 *   (d) a naive memmem() loop over the keywords, what people write by hand.
 *
 * Also the compile time and RSS of each synthetic set. Prints a table and,
 * with --json FILE, writes the figures as JSON.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corpus.h"
#include "lag.h"
#include "ruleset_int.h"
#include "scan.h"
#include "stream.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* One measured figure: bytes and messages per second over a timed run. */
typedef struct figure {
    double mbps, msgps, ns_per_msg;
    int ok;
} figure;

typedef int (*scan_fn)(void *ctx, const char *text, size_t len);

/* Run FN over the messages round-robin for about BUDGET seconds. */
static figure measure(scan_fn fn, void *ctx, const bench_msgs *m, double budget)
{
    figure f = {0};
    size_t bytes = 0, msgs = 0, i = 0;
    double t0 = now(), t = t0;
    volatile int sink = 0;
    do {
        for (int k = 0; k < 16; k++) {
            sink += fn(ctx, m->msg[i], m->len[i]);
            bytes += m->len[i];
            msgs++;
            if (++i == m->n)
                i = 0;
        }
        t = now();
    } while (t - t0 < budget);
    (void)sink;
    double el = t - t0;
    f.mbps = bytes / el / 1e6;
    f.msgps = msgs / el;
    f.ns_per_msg = el * 1e9 / msgs;
    f.ok = 1;
    return f;
}

/* (a) */
typedef struct raw_ctx {
    fd_ruleset *rs;
    hs_scratch_t *scratch;
} raw_ctx;

static int count_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    ++*(int *)ctx;
    return 0;
}

static int run_raw(void *vctx, const char *text, size_t len)
{
    raw_ctx *c = vctx;
    int n = 0;
    for (int b = 0; b < FD_BUF_MAX; b++)
        if (c->rs->db[b])
            hs_scan(c->rs->db[b], text, (unsigned)len, 0, c->scratch, count_cb, &n);
    return n;
}

/* (b) */
typedef struct full_ctx {
    fd_ruleset *rs;
    fd_scratch *s;
    fd_result res;
} full_ctx;

static int run_full(void *vctx, const char *text, size_t len)
{
    full_ctx *c = vctx;
    fd_scan(c->rs, c->s, text, len, &c->res);
    return (int)c->res.decision;
}

/* (c) */
typedef struct pcre_ctx {
    pcre2_code *re;
    pcre2_match_data *md;
} pcre_ctx;

static int run_pcre(void *vctx, const char *text, size_t len)
{
    pcre_ctx *c = vctx;
    int n = 0;
    size_t off = 0;
    while (off < len && pcre2_match(c->re, (PCRE2_SPTR)text, len, off, 0, c->md, NULL) > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        n++;
        off = ov[1] > off ? ov[1] : off + 1;
    }
    return n;
}

static pcre2_code *pcre_alternation(const bench_keywords *k, char *err, size_t errlen)
{
    size_t cap = 16;
    for (size_t i = 0; i < k->n; i++)
        cap += strlen(k->kw[i]) + 6;
    char *p = malloc(cap), *o = p;
    for (size_t i = 0; i < k->n; i++) {
        if (i)
            *o++ = '|';
        o += sprintf(o, "\\Q%s\\E", k->kw[i]);
    }
    *o = '\0';
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)p, (size_t)(o - p),
                                   PCRE2_UTF | PCRE2_CASELESS | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
    free(p);
    if (!re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, errlen, "%s", (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

/* (d) */
static int run_memmem(void *vctx, const char *text, size_t len)
{
    const bench_keywords *k = vctx;
    int n = 0;
    for (size_t i = 0; i < k->n; i++)
        n += memmem(text, len, k->kw[i], strlen(k->kw[i])) != NULL;
    return n;
}

/* Streams: each message fed in CHUNK-byte pieces, then closed. */
typedef struct stream_ctx {
    fd_ruleset *rs;
    fd_scratch *s;
    fd_result res;
    size_t chunk;
    size_t state_bytes; /* fd_stream_bytes() before close, last seen */
    fd_stream_policy pol;
} stream_ctx;

static int run_stream(void *vctx, const char *text, size_t len)
{
    stream_ctx *c = vctx;
    fd_stream *st = NULL;
    uint64_t rel = 0;
    if (fd_stream_open(c->rs, c->s, 0, &st))
        return 0;
    fd_stream_set_policy(st, c->pol);
    for (size_t off = 0; off < len && !fd_stream_blocked(st); off += c->chunk)
        fd_stream_feed(st, c->s, text + off, len - off < c->chunk ? len - off : c->chunk, &c->res,
                       &rel);
    c->state_bytes = fd_stream_bytes(st);
    fd_stream_close(st, c->s, &c->res, &rel);
    fd_stream_free(st);
    return (int)rel;
}

typedef struct srow {
    const char *set;
    size_t chunk;
    fd_stream_policy pol;
    figure f;
    double ns_per_chunk;
    size_t state_bytes, hs_state;
} srow;

typedef struct row {
    const char *set;
    size_t msg_size;
    figure a, b, c, d;
} row;

static void print_fig(const figure *f)
{
    if (f->ok)
        printf(" %9.1f %10.0f %9.0f |", f->mbps, f->msgps, f->ns_per_msg);
    else
        printf(" %9s %10s %9s |", "n/a", "n/a", "n/a");
}

static void json_fig(FILE *j, const char *name, const figure *f)
{
    if (f->ok)
        fprintf(j, "\"%s\": {\"mb_s\": %.2f, \"msg_s\": %.0f, \"ns_msg\": %.0f}", name, f->mbps,
                f->msgps, f->ns_per_msg);
    else
        fprintf(j, "\"%s\": null", name);
}

static void print_lag(const char *set, const char *corpus, const char *pol, const lag_stats *l)
{
    printf("%-8s %-11s %-7s | %7zu %7zu %7zu | %6u %6u %6u | %8zu\n", set, corpus, pol, l->streams,
           l->blocked, l->samples, l->median, l->p99, l->max, l->mid_char);
}

static void json_lag(FILE *j, int *first, const char *set, const char *corpus, const char *pol,
                     const lag_stats *l)
{
    if (!j)
        return;
    fprintf(j,
            "%s{\"set\": \"%s\", \"corpus\": \"%s\", \"policy\": \"%s\", \"streams\": %zu, "
            "\"blocked\": %zu, \"chunks\": %zu, \"lag_median\": %u, \"lag_p99\": %u, "
            "\"lag_max\": %u, \"mid_char\": %zu}\n",
            *first ? "" : ",", set, corpus, pol, l->streams, l->blocked, l->samples, l->median,
            l->p99, l->max, l->mid_char);
    *first = 0;
}

/*
 * Release lag and block-report delay (lag.c) for the bundled rules and a
 * 65,536-keyword list shaped like a Chinese vendor list, both policies.
 */
static int lag_section(const char *bundled, int quick, FILE *j)
{
    bench_msgs zh, en;
    size_t max = quick ? 300 : 1000;
    if (bench_paras_load(1, max, 4096, &zh) || bench_paras_load(0, max, 4096, &en)) {
        fprintf(stderr, "fd_bench: no fortunes corpus (install fortunes, fortunes-zh)\n");
        return 1;
    }
    printf("\n== stream release: fortunes in chunks of 3 characters; lag = bytes received - "
           "released, after each chunk\n");
    printf("%-8s %-11s %-7s | %7s %7s %7s | %6s %6s %6s | %8s\n", "set", "corpus", "policy",
           "streams", "blocked", "chunks", "median", "p99", "max", "mid-char");
    if (j)
        fprintf(j, ",\n\"lag\": [\n");
    int first = 1;
    struct {
        const char *name;
        fd_ruleset *rs;
        bench_keywords kw;
    } sets[2] = {{"bundled", NULL, {0}}, {"vendor65k", NULL, {0}}};
    if (bundled) {
        fd_diag diag = FD_DIAG_INIT;
        if (fd_ruleset_load(bundled, &sets[0].rs, &diag))
            sets[0].rs = NULL;
        fd_diag_free(&diag);
        if (sets[0].rs)
            block_keywords(sets[0].rs, &sets[0].kw);
    }
    size_t dropped = 0;
    sets[1].rs = vendor_make(65536, &zh, &en, &sets[1].kw, &dropped);
    block_stats bs[2][2];
    int have_bs[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (!sets[k].rs)
            continue;
        fd_scratch *s = NULL;
        if (fd_scratch_new(sets[k].rs, &s))
            continue;
        for (int c = 0; c < 2; c++)
            for (int p = 0; p < 2; p++) {
                lag_stats l;
                fd_stream_policy pol = p ? FD_STREAM_EXACT : FD_STREAM_WIDEST;
                lag_run(sets[k].rs, s, c ? &en : &zh, pol, &l);
                print_lag(sets[k].name, c ? "fortunes" : "fortunes-zh", p ? "exact" : "widest", &l);
                json_lag(j, &first, sets[k].name, c ? "fortunes" : "fortunes-zh",
                         p ? "exact" : "widest", &l);
            }
        /* Chinese and English paragraphs alternate as hosts of the keyword. */
        bench_msgs mix = {0};
        mix.n = zh.n < en.n ? 2 * zh.n : 2 * en.n;
        mix.msg = calloc(mix.n ? mix.n : 1, sizeof *mix.msg);
        mix.len = calloc(mix.n ? mix.n : 1, sizeof *mix.len);
        for (size_t i = 0; i < mix.n; i++) {
            const bench_msgs *m = i % 2 ? &en : &zh;
            mix.msg[i] = m->msg[i / 2];
            mix.len[i] = m->len[i / 2];
        }
        for (int p = 0; p < 2; p++)
            block_run(sets[k].rs, s, &mix, &sets[k].kw, quick ? 500 : 2000,
                      p ? FD_STREAM_EXACT : FD_STREAM_WIDEST, &bs[k][p]);
        have_bs[k] = 1;
        free(mix.msg);
        free(mix.len);
        fd_scratch_free(s);
    }
    if (sets[1].rs)
        printf("(vendor65k: %zu keywords, %zu dropped for matching the benign corpus)\n",
               sets[1].kw.n, dropped);
    printf("\n== block report: a block keyword at a random position, chunks of 3 characters; "
           "delay = bytes received at the report - match end\n");
    printf("%-10s %-7s | %6s | %6s %6s %6s | %6s %7s\n", "set", "policy", "texts", "median", "p99",
           "max", "late", "missed");
    if (j)
        fprintf(j, "],\n\"block_report\": [\n");
    first = 1;
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < 2 && have_bs[k]; p++) {
            const block_stats *b = &bs[k][p];
            printf("%-10s %-7s | %6zu | %6u %6u %6u | %6zu %7zu\n", sets[k].name,
                   p ? "exact" : "widest", b->texts, b->median, b->p99, b->max, b->late, b->missed);
            if (j)
                fprintf(j,
                        "%s{\"set\": \"%s\", \"policy\": \"%s\", \"texts\": %zu, "
                        "\"delay_median\": %u, \"delay_p99\": %u, \"delay_max\": %u, \"late\": "
                        "%zu, \"missed\": %zu}\n",
                        first ? "" : ",", sets[k].name, p ? "exact" : "widest", b->texts, b->median,
                        b->p99, b->max, b->late, b->missed);
            first = 0;
        }
    if (j)
        fprintf(j, "]");
    printf("(late: reported after the chunk that brings 64 bytes past the match's end; target "
           "0 with exact)\n");
    for (int k = 0; k < 2; k++) {
        fd_ruleset_unref(sets[k].rs);
        bench_keywords_free(&sets[k].kw);
    }
    bench_msgs_free(&zh);
    bench_msgs_free(&en);
    return 0;
}

int main(int argc, char **argv)
{
    int quick = 0, lag_only = 0;
    const char *json = NULL, *bundled = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--lag-only"))
            lag_only = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--rules") && i + 1 < argc)
            bundled = argv[++i];
        else {
            fprintf(stderr, "usage: fd_bench [--quick] [--lag-only] [--rules DIR] [--json FILE]\n");
            return 64;
        }
    }
    if (lag_only)
        return lag_section(bundled, quick, NULL);
    double budget = quick ? 0.25 : 1.0;
    size_t sizes_full[] = {256, 1024, 4096}, sizes_quick[] = {1024};
    size_t *sizes = quick ? sizes_quick : sizes_full;
    size_t nsizes = quick ? 1 : 3;
    size_t sets_full[] = {1000, 10000, 100000}, sets_quick[] = {1000, 10000};
    size_t *sets = quick ? sets_quick : sets_full;
    size_t nsets = quick ? 2 : 3;

    bench_msgs msgs[3];
    for (size_t i = 0; i < nsizes; i++)
        if (bench_msgs_load(sizes[i], 2000, &msgs[i])) {
            fprintf(stderr, "fd_bench: no fortunes corpus (install fortunes, fortunes-zh)\n");
            return 1;
        }

    FILE *j = json ? fopen(json, "w") : NULL;
    if (j)
        fprintf(j, "{\n\"quick\": %s,\n\"hs_version\": \"%s\",\n\"scale\": [\n",
                quick ? "true" : "false", fd_hs_version());

    printf("== scale: synthetic keyword sets (+200 regexes)\n");
    printf("%-8s | %10s | %10s | %10s | %12s\n", "set", "compile s", "RSS MiB", "DB MiB",
           "cache load s");
    row rows[64];
    size_t nrows = 0;
    srow srows[16];
    size_t nsrows = 0;
    char names[8][32];
    for (size_t si = 0; si <= nsets; si++) {
        /* si == nsets: the bundled rules, if given */
        fd_ruleset *rs = NULL;
        bench_keywords kw = {0};
        char *dir = NULL;
        fd_diag diag = FD_DIAG_INIT;
        const char *name;
        if (si < nsets) {
            bench_keywords_make(sets[si], 42 + si, &kw);
            dir = bench_ruledir_make(&kw, 200, 99);
            snprintf(names[si], sizeof names[si], "%zuk", sets[si] / 1000);
            name = names[si];
        } else {
            if (!bundled)
                break;
            name = "bundled";
        }
        long rss0 = rss_kib();
        double t0 = now();
        int r = fd_ruleset_load(dir ? dir : bundled, &rs, &diag);
        double ct = now() - t0;
        long rss1 = rss_kib();
        if (r) {
            char *e = fd_diag_join(&diag);
            fprintf(stderr, "fd_bench: %s: %s\n%s\n", name, fd_strerror(r), e ? e : "");
            return 1;
        }
        fd_diag_free(&diag);
        double cache_s = -1;
        if (si < nsets) {
            /* The same set through the compiled-database cache: the first
             * load fills it, the second is the figure. */
            char cdir[] = "/tmp/fd-bench-cache-XXXXXX";
            if (mkdtemp(cdir)) {
                fd_ruleset_opts o = {.cache_dir = cdir};
                fd_ruleset *c1 = NULL, *c2 = NULL;
                if (fd_ruleset_load_opts(dir, &o, &c1, &diag) == 0) {
                    double t1 = now();
                    if (fd_ruleset_load_opts(dir, &o, &c2, &diag) == 0 && fd_ruleset_cached(c2))
                        cache_s = now() - t1;
                }
                fd_ruleset_unref(c1);
                fd_ruleset_unref(c2);
                char cmd[128];
                snprintf(cmd, sizeof cmd, "rm -rf %s", cdir);
                if (system(cmd) != 0)
                    fprintf(stderr, "fd_bench: could not remove %s\n", cdir);
            }
            printf("%-8s | %10.2f | %10.1f | %10.1f | %12.3f\n", name, ct, (rss1 - rss0) / 1024.0,
                   fd_ruleset_db_bytes(rs) / 1048576.0, cache_s);
            if (j)
                fprintf(j,
                        "%s{\"set\": \"%s\", \"keywords\": %zu, \"compile_s\": %.3f, "
                        "\"rss_mib\": %.1f, \"db_mib\": %.1f, \"cache_load_s\": %.3f}\n",
                        si ? "," : "", name, sets[si], ct, (rss1 - rss0) / 1024.0,
                        fd_ruleset_db_bytes(rs) / 1048576.0, cache_s);
        }

        raw_ctx rc = {rs, NULL};
        for (int b = 0; b < FD_BUF_MAX; b++)
            if (rs->db[b])
                hs_alloc_scratch(rs->db[b], &rc.scratch);
        full_ctx fc = {rs, NULL, {0}};
        fd_scratch_new(rs, &fc.s);
        fd_result_init(&fc.res);
        pcre_ctx pc = {NULL, pcre2_match_data_create(1, NULL)};
        char perr[128] = "";
        if (si < nsets)
            pc.re = pcre_alternation(&kw, perr, sizeof perr);

        for (size_t mi = 0; mi < nsizes; mi++) {
            row *w = &rows[nrows++];
            memset(w, 0, sizeof *w);
            w->set = name;
            w->msg_size = sizes[mi];
            w->a = measure(run_raw, &rc, &msgs[mi], budget);
            w->b = measure(run_full, &fc, &msgs[mi], budget);
            if (pc.re)
                w->c = measure(run_pcre, &pc, &msgs[mi], budget);
            if (si < nsets)
                w->d = measure(run_memmem, &kw, &msgs[mi], budget);
        }
        /* Streams over the 1 KiB (or the only) message size, on the 10k
         * set and the bundled rules. */
        if ((si < nsets && sets[si] == 10000) || si == nsets) {
            size_t mi = nsizes > 1 ? 1 : 0;
            size_t chunks[] = {16, 64};
            for (size_t ci = 0; ci < 4; ci++) {
                /* Each chunk size with the baseline policy, then the exact one. */
                stream_ctx sc = {
                    rs, fc.s, {0}, chunks[ci / 2], 0, ci % 2 ? FD_STREAM_EXACT : FD_STREAM_WIDEST};
                fd_result_init(&sc.res);
                srow *w = &srows[nsrows++];
                w->set = name;
                w->chunk = chunks[ci / 2];
                w->pol = sc.pol;
                w->f = measure(run_stream, &sc, &msgs[mi], budget);
                double per_msg_chunks = (double)msgs[mi].total / msgs[mi].n / w->chunk;
                w->ns_per_chunk = w->f.ns_per_msg / per_msg_chunks;
                w->state_bytes = sc.state_bytes;
                w->hs_state = fd_ruleset_stream_state_bytes(rs);
                fd_result_free(&sc.res);
            }
        }
        if (si < nsets && !pc.re)
            printf("         (PCRE2 alternation of %s keywords does not compile: %s)\n", name,
                   perr);
        pcre2_code_free(pc.re);
        pcre2_match_data_free(pc.md);
        fd_result_free(&fc.res);
        fd_scratch_free(fc.s);
        hs_free_scratch(rc.scratch);
        fd_ruleset_unref(rs);
        if (dir) {
            bench_ruledir_remove(dir);
            bench_keywords_free(&kw);
        }
    }

    printf("\n== hot path, one thread: MB/s, messages/s, ns per message\n");
    printf("%-8s %5s | %-31s | %-31s | %-31s | %-31s | %6s %7s %7s\n", "set", "msg",
           "(a) raw hs_scan", "(b) full path", "(c) PCRE2 alternation", "(d) memmem loop", "b/a",
           "b/c", "b/d");
    for (size_t i = 0; i < nrows; i++) {
        row *w = &rows[i];
        printf("%-8s %5zu |", w->set, w->msg_size);
        print_fig(&w->a);
        print_fig(&w->b);
        print_fig(&w->c);
        print_fig(&w->d);
        printf(" %6.2f", w->b.mbps / w->a.mbps);
        if (w->c.ok)
            printf(" %7.1f", w->b.mbps / w->c.mbps);
        else
            printf(" %7s", "n/a");
        if (w->d.ok)
            printf(" %7.1f", w->b.mbps / w->d.mbps);
        else
            printf(" %7s", "n/a");
        printf("\n");
    }
    printf("\n== streams: messages of ~1 KiB fed in chunks, one thread\n");
    printf("(policy: widest = the widest rule's hold-back, the old release; exact = from the "
           "state of the text; x = exact/widest)\n");
    printf("%-8s %6s %-7s | %9s | %12s | %6s | %12s | %14s\n", "set", "chunk", "policy", "MB/s",
           "ns/chunk", "x", "bytes/stream", "of which HS");
    for (size_t i = 0; i < nsrows; i++) {
        printf("%-8s %6zu %-7s | %9.1f | %12.0f |", srows[i].set, srows[i].chunk,
               srows[i].pol == FD_STREAM_WIDEST ? "widest" : "exact", srows[i].f.mbps,
               srows[i].ns_per_chunk);
        if (srows[i].pol == FD_STREAM_EXACT && i > 0)
            printf(" %6.2f |", srows[i].ns_per_chunk / srows[i - 1].ns_per_chunk);
        else
            printf(" %6s |", "");
        printf(" %12zu | %14zu\n", srows[i].state_bytes, srows[i].hs_state);
    }
    if (j) {
        fprintf(j, "],\n\"streams\": [\n");
        for (size_t i = 0; i < nsrows; i++)
            fprintf(j,
                    "%s{\"set\": \"%s\", \"chunk\": %zu, \"policy\": \"%s\", \"mb_s\": %.2f, "
                    "\"ns_chunk\": %.0f, \"bytes_stream\": %zu, \"hs_state\": %zu}\n",
                    i ? "," : "", srows[i].set, srows[i].chunk,
                    srows[i].pol == FD_STREAM_WIDEST ? "widest" : "exact", srows[i].f.mbps,
                    srows[i].ns_per_chunk, srows[i].state_bytes, srows[i].hs_state);
        fprintf(j, "],\n\"hotpath\": [\n");
        for (size_t i = 0; i < nrows; i++) {
            row *w = &rows[i];
            fprintf(j, "%s{\"set\": \"%s\", \"msg_bytes\": %zu, ", i ? "," : "", w->set,
                    w->msg_size);
            json_fig(j, "raw_hs_scan", &w->a);
            fprintf(j, ", ");
            json_fig(j, "full_path", &w->b);
            fprintf(j, ", ");
            json_fig(j, "pcre2_alternation", &w->c);
            fprintf(j, ", ");
            json_fig(j, "memmem_loop", &w->d);
            fprintf(j, "}\n");
        }
        fprintf(j, "]");
    }
    int lr = lag_section(bundled, quick, j);
    if (j) {
        fprintf(j, "\n}\n");
        fclose(j);
    }
    if (lr)
        return 1;
    for (size_t i = 0; i < nsizes; i++)
        bench_msgs_free(&msgs[i]);
    return 0;
}
