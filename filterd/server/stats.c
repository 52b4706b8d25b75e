/*
 * stats.c — see stats.h.
 */
#include "stats.h"

#include <string.h>

#include "proto.h"
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

void fd_stats_latency(fd_stats *s, uint64_t us)
{
    fd_stat_add(&s->lat[lat_bucket(us)], 1);
}

static uint64_t sum(fd_stats *const *t, size_t n, size_t off)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        const fd_counter *c = (const fd_counter *)((const char *)t[i] + off);
        v += atomic_load_explicit(c, memory_order_relaxed);
    }
    return v;
}

#define SUM(field) sum(threads, nthreads, offsetof(fd_stats, field))

static void kv(fd_buf *out, const char *key, uint64_t v, int comma)
{
    if (comma)
        fd_buf_putc(out, ',');
    fd_buf_key(out, key);
    fd_buf_u64(out, v);
}

void fd_stats_write(fd_buf *out, fd_stats *const *threads, size_t nthreads,
                    const fd_stats_extra *extra)
{
    /* requests */
    uint64_t total = 0;
    fd_buf_puts(out, "\"requests\":{");
    for (int op = 0; op < FD_OP_COUNT && op < FD_STATS_MAX_OPS; op++) {
        uint64_t v = SUM(ops[op]);
        total += v;
        kv(out, fd_proto_op_name(op), v, op != 0);
    }
    uint64_t errtotal = 0;
    fd_buf_puts(out, ",\"errors\":{");
    int first = 1;
    for (int e = 1; e < FD_PERR_COUNT && e < FD_STATS_MAX_ERRORS; e++) {
        uint64_t v = SUM(errors[e]);
        errtotal += v;
        if (v) {
            kv(out, fd_proto_error_name(e), v, !first);
            first = 0;
        }
    }
    fd_buf_putc(out, '}');
    kv(out, "error_total", errtotal, 1);
    kv(out, "total", total, 1);
    fd_buf_putc(out, '}');

    fd_buf_puts(out, ",\"decisions\":{");
    kv(out, "allow", SUM(decisions[FD_ALLOW]), 0);
    kv(out, "flag", SUM(decisions[FD_FLAG]), 1);
    kv(out, "block", SUM(decisions[FD_BLOCK]), 1);
    fd_buf_putc(out, '}');

    fd_buf_puts(out, ",\"categories\":{");
    first = 1;
    for (size_t c = 0; c < extra->ncats && c < FD_STATS_MAX_CATS; c++) {
        uint64_t v = SUM(categories[c]);
        if (v) {
            kv(out, extra->cat_ids[c], v, !first);
            first = 0;
        }
    }
    fd_buf_putc(out, '}');

    kv(out, "bytes", SUM(bytes), 1);

    /* latency percentiles over the summed histogram */
    uint64_t hist[FD_STATS_LAT_BUCKETS], n = 0;
    for (unsigned b = 0; b < FD_STATS_LAT_BUCKETS; b++) {
        hist[b] = SUM(lat[b]);
        n += hist[b];
    }
    static const struct {
        const char *name;
        double q;
    } pct[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}};
    fd_buf_puts(out, ",\"latency_us\":{");
    kv(out, "count", n, 0);
    for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
        uint64_t want = (uint64_t)(pct[i].q * (double)n + 0.999999), seen = 0, v = 0;
        for (unsigned b = 0; b < FD_STATS_LAT_BUCKETS && n; b++) {
            seen += hist[b];
            if (seen >= want) {
                v = lat_upper(b);
                break;
            }
        }
        kv(out, pct[i].name, v, 1);
    }
    fd_buf_putc(out, '}');

    fd_buf_puts(out, ",\"connections\":{");
    kv(out, "current", SUM(conns_current), 0);
    kv(out, "total", SUM(conns_total), 1);
    kv(out, "rejected", SUM(conns_rejected), 1);
    fd_buf_puts(out, ",\"per_thread\":[");
    for (size_t i = 0; i < nthreads; i++) {
        if (i)
            fd_buf_putc(out, ',');
        fd_buf_u64(out, atomic_load_explicit(&threads[i]->conns_current, memory_order_relaxed));
    }
    fd_buf_puts(out, "]}");

    fd_buf_puts(out, ",\"streams\":{");
    kv(out, "current", SUM(streams_current), 0);
    kv(out, "total", SUM(streams_total), 1);
    kv(out, "blocked", SUM(streams_blocked), 1);
    kv(out, "expired", SUM(streams_expired), 1);
    kv(out, "bytes", SUM(streams_bytes), 1);
    kv(out, "memory", SUM(streams_mem), 1);
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
