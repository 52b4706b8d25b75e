/*
 * stats.c — see stats.h.
 */
#include "stats.h"

#include <string.h>

#include "rules.h"

/* Bucket of a latency in µs: exact below 8, then 4 per power of two. */
static unsigned lat_bucket(uint64_t us)
{
    if (us < 8)
        return (unsigned)us;
    unsigned e = 63u - (unsigned)__builtin_clzll(us); /* floor(log2), >= 3 */
    unsigned m = (unsigned)(us >> (e - 2)) & 3u;
    unsigned b = 8 + (e - 3) * 4 + m;
    return b < FD_STATS_LAT_BUCKETS ? b : FD_STATS_LAT_BUCKETS - 1;
}

/* Largest latency that falls into bucket B. */
static uint64_t lat_upper(unsigned b)
{
    if (b < 8)
        return b;
    unsigned e = 3 + (b - 8) / 4, m = (b - 8) % 4;
    return ((uint64_t)(5 + m) << (e - 2)) - 1;
}

const uint64_t fd_stats_hist_us[FD_STATS_HIST_BUCKETS] = {
    10,   25,    50,    100,   250,    500,    1000,   2500,
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

unsigned fd_stats_hist_bucket(uint64_t us)
{
    unsigned b = 0;
    while (b < FD_STATS_HIST_BUCKETS && us > fd_stats_hist_us[b])
        b++;
    return b;
}

void fd_stats_latency(fd_stats *s, uint64_t us)
{
    fd_stat_add(&s->lat[lat_bucket(us)], 1);
    fd_stat_add(&s->hist[fd_stats_hist_bucket(us)], 1);
    fd_stat_add(&s->lat_sum_us, us);
}

#define LOAD(c) atomic_load_explicit(&(c), memory_order_relaxed)

void fd_stats_sum(fd_stats_snapshot *snap, fd_stats *const *threads, size_t nthreads)
{
    fd_stats_extra x = snap->x;
    memset(snap, 0, sizeof *snap);
    snap->x = x;
    snap->nthreads = nthreads < 256 ? nthreads : 256;
    for (size_t i = 0; i < nthreads; i++) {
        fd_stats *t = threads[i];
        for (int a = 0; a < FD_API_COUNT; a++)
            for (int op = 0; op < FD_OP_COUNT; op++)
                snap->ops[a][op] += LOAD(t->ops[a][op]);
        for (int e = 0; e < FD_SVC_NERR; e++)
            snap->errors[e] += LOAD(t->errors[e]);
        for (int d = 0; d < 3; d++)
            snap->decisions[d] += LOAD(t->decisions[d]);
        for (int c = 0; c < FD_STATS_MAX_CATS; c++)
            snap->categories[c] += LOAD(t->categories[c]);
        for (int b = 0; b < FD_STATS_LAT_BUCKETS; b++)
            snap->lat[b] += LOAD(t->lat[b]);
        for (int c = 0; c < FD_STATS_MAX_CATS; c++) {
            snap->matches[c][0] += LOAD(t->matches[c][0]);
            snap->matches[c][1] += LOAD(t->matches[c][1]);
        }
        for (int b = 0; b <= FD_STATS_HIST_BUCKETS; b++)
            snap->hist[b] += LOAD(t->hist[b]);
        snap->lat_sum_us += LOAD(t->lat_sum_us);
        snap->bytes += LOAD(t->bytes);
        uint64_t cur = LOAD(t->conns_current);
        if (i < 256)
            snap->per_thread_conns[i] = cur;
        snap->conns_current += cur;
        snap->conns_total += LOAD(t->conns_total);
        snap->conns_rejected += LOAD(t->conns_rejected);
        snap->streams_current += LOAD(t->streams_current);
        snap->streams_total += LOAD(t->streams_total);
        snap->streams_blocked += LOAD(t->streams_blocked);
        snap->streams_expired += LOAD(t->streams_expired);
        snap->streams_bytes += LOAD(t->streams_bytes);
        snap->streams_mem += LOAD(t->streams_mem);
    }
}

uint64_t fd_stats_lat_upper(unsigned b)
{
    return lat_upper(b);
}

static void kv(fd_buf *out, const char *key, uint64_t v, int comma)
{
    if (comma)
        fd_buf_putc(out, ',');
    fd_buf_key(out, key);
    fd_buf_u64(out, v);
}

void fd_stats_write(fd_buf *out, const fd_stats_snapshot *s)
{
    const fd_stats_extra *extra = &s->x;
    /* requests: per op over every interface, then per interface */
    uint64_t total = 0;
    fd_buf_puts(out, "\"requests\":{");
    for (int op = 0; op < FD_OP_COUNT; op++) {
        uint64_t v = 0;
        for (int a = 0; a < FD_API_COUNT; a++)
            v += s->ops[a][op];
        total += v;
        kv(out, fd_svc_op_name(op), v, op != 0);
    }
    uint64_t errtotal = 0;
    fd_buf_puts(out, ",\"errors\":{");
    int first = 1;
    for (int e = 1; e < FD_SVC_NERR; e++) {
        uint64_t v = s->errors[e];
        errtotal += v;
        if (v) {
            kv(out, fd_svc_code_name(FD_SVC_EBASE - e), v, !first);
            first = 0;
        }
    }
    fd_buf_putc(out, '}');
    kv(out, "error_total", errtotal, 1);
    kv(out, "total", total, 1);
    /* by_api: {"ndjson":{"check":N,…},…}, interfaces and ops with requests only */
    fd_buf_puts(out, ",\"by_api\":{");
    first = 1;
    for (int a = 0; a < FD_API_COUNT; a++) {
        int any = 0;
        for (int op = 0; op < FD_OP_COUNT; op++) {
            if (!s->ops[a][op])
                continue;
            if (!any) {
                if (!first)
                    fd_buf_putc(out, ',');
                first = 0;
                fd_buf_key(out, fd_svc_api_name(a));
                fd_buf_putc(out, '{');
            }
            kv(out, fd_svc_op_name(op), s->ops[a][op], any);
            any = 1;
        }
        if (any)
            fd_buf_putc(out, '}');
    }
    fd_buf_puts(out, "}}");

    fd_buf_puts(out, ",\"decisions\":{");
    kv(out, "allow", s->decisions[FD_ALLOW], 0);
    kv(out, "flag", s->decisions[FD_FLAG], 1);
    kv(out, "block", s->decisions[FD_BLOCK], 1);
    fd_buf_putc(out, '}');

    fd_buf_puts(out, ",\"categories\":{");
    first = 1;
    for (size_t c = 0; c < extra->ncats && c < FD_STATS_MAX_CATS; c++) {
        if (s->categories[c]) {
            kv(out, extra->cat_ids[c], s->categories[c], !first);
            first = 0;
        }
    }
    fd_buf_putc(out, '}');

    kv(out, "bytes", s->bytes, 1);

    /* latency percentiles over the summed histogram */
    uint64_t n = 0;
    for (unsigned b = 0; b < FD_STATS_LAT_BUCKETS; b++)
        n += s->lat[b];
    static const struct {
        const char *name;
        double q;
    } pct[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}};
    fd_buf_puts(out, ",\"latency_us\":{");
    kv(out, "count", n, 0);
    for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
        uint64_t want = (uint64_t)(pct[i].q * (double)n + 0.999999), seen = 0, v = 0;
        for (unsigned b = 0; b < FD_STATS_LAT_BUCKETS && n; b++) {
            seen += s->lat[b];
            if (seen >= want) {
                v = lat_upper(b);
                break;
            }
        }
        kv(out, pct[i].name, v, 1);
    }
    fd_buf_putc(out, '}');

    fd_buf_puts(out, ",\"connections\":{");
    kv(out, "current", s->conns_current, 0);
    kv(out, "total", s->conns_total, 1);
    kv(out, "rejected", s->conns_rejected, 1);
    fd_buf_puts(out, ",\"per_thread\":[");
    for (size_t i = 0; i < s->nthreads; i++) {
        if (i)
            fd_buf_putc(out, ',');
        fd_buf_u64(out, s->per_thread_conns[i]);
    }
    fd_buf_puts(out, "]}");

    fd_buf_puts(out, ",\"streams\":{");
    kv(out, "current", s->streams_current, 0);
    kv(out, "total", s->streams_total, 1);
    kv(out, "blocked", s->streams_blocked, 1);
    kv(out, "expired", s->streams_expired, 1);
    kv(out, "bytes", s->streams_bytes, 1);
    kv(out, "memory", s->streams_mem, 1);
    fd_buf_putc(out, '}');
    fd_buf_puts(out, ",\"rules\":{\"version\":");
    fd_buf_json_str(out, extra->rules_version, strlen(extra->rules_version));
    kv(out, "count", extra->rules_count, 1);
    kv(out, "categories", extra->ncats, 1);
    kv(out, "load_us", (uint64_t)(extra->rules_load_ms * 1000), 1);
    fd_buf_puts(out, ",\"cached\":");
    fd_buf_puts(out, extra->rules_cached ? "true" : "false");
    fd_buf_putc(out, '}');

    fd_buf_puts(out, ",\"reloads\":{");
    kv(out, "ok", extra->reloads_ok, 0);
    kv(out, "failed", extra->reloads_failed, 1);
    if (extra->last_reload_at) {
        fd_buf_puts(out, ",\"last\":{");
        kv(out, "at", extra->last_reload_at, 0);
        fd_buf_puts(out, ",\"ok\":");
        fd_buf_puts(out, extra->last_reload_ok ? "true" : "false");
        kv(out, "load_us", extra->last_reload_us, 1);
        fd_buf_puts(out, ",\"cached\":");
        fd_buf_puts(out, extra->last_reload_cached ? "true" : "false");
        fd_buf_putc(out, '}');
    }
    fd_buf_putc(out, '}');

    fd_buf_puts(out, ",\"audit\":{\"enabled\":");
    fd_buf_puts(out, extra->audit_enabled ? "true" : "false");
    if (extra->audit_enabled) {
        kv(out, "records", extra->audit_records, 1);
        kv(out, "writes", extra->audit_writes, 1);
        kv(out, "errors", extra->audit_errors, 1);
        kv(out, "next_seq", extra->audit_next_seq, 1);
        fd_buf_puts(out, ",\"failing\":");
        fd_buf_puts(out, extra->audit_failing ? "true" : "false");
    }
    fd_buf_putc(out, '}');

    kv(out, "threads", extra->threads, 1);
    kv(out, "uptime_s", extra->uptime_s, 1);
}
