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
} stream_ctx;

static int run_stream(void *vctx, const char *text, size_t len)
{
    stream_ctx *c = vctx;
    fd_stream *st = NULL;
    uint64_t rel = 0;
    if (fd_stream_open(c->rs, c->s, 0, &st))
        return 0;
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

int main(int argc, char **argv)
{
    int quick = 0;
    const char *json = NULL, *bundled = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--rules") && i + 1 < argc)
            bundled = argv[++i];
        else {
            fprintf(stderr, "usage: fd_bench [--quick] [--rules DIR] [--json FILE]\n");
            return 64;
        }
    }
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
                fd_ruleset_opts o = {cdir};
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
            for (size_t ci = 0; ci < 2; ci++) {
                stream_ctx sc = {rs, fc.s, {0}, chunks[ci], 0};
                fd_result_init(&sc.res);
                srow *w = &srows[nsrows++];
                w->set = name;
                w->chunk = chunks[ci];
                w->f = measure(run_stream, &sc, &msgs[mi], budget);
                double per_msg_chunks = (double)msgs[mi].total / msgs[mi].n / chunks[ci];
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
    printf("%-8s %6s | %9s | %12s | %12s | %14s\n", "set", "chunk", "MB/s", "ns/chunk",
           "bytes/stream", "of which HS");
    for (size_t i = 0; i < nsrows; i++)
        printf("%-8s %6zu | %9.1f | %12.0f | %12zu | %14zu\n", srows[i].set, srows[i].chunk,
               srows[i].f.mbps, srows[i].ns_per_chunk, srows[i].state_bytes, srows[i].hs_state);
    if (j) {
        fprintf(j, "],\n\"streams\": [\n");
        for (size_t i = 0; i < nsrows; i++)
            fprintf(j,
                    "%s{\"set\": \"%s\", \"chunk\": %zu, \"mb_s\": %.2f, "
                    "\"ns_chunk\": %.0f, \"bytes_stream\": %zu, \"hs_state\": %zu}\n",
                    i ? "," : "", srows[i].set, srows[i].chunk, srows[i].f.mbps,
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
        fprintf(j, "]\n}\n");
        fclose(j);
    }
    for (size_t i = 0; i < nsizes; i++)
        bench_msgs_free(&msgs[i]);
    return 0;
}
