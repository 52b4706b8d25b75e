/*
 * metrics.h — the Prometheus text exposition (format 0.0.4) of `GET
 * /metrics`, with the metric names SPEC §5 fixes.
 *
 * The caller takes a snapshot of its counters into an fd_metrics (plain
 * numbers and names; the per-thread counters are summed by whoever owns
 * them) and this module only writes text: `promtool check metrics`
 * accepts it (HELP and TYPE before each family, counters ending in
 * _total, cumulative histogram buckets ending with +Inf, label values
 * escaped).
 *
 * Request latency is a histogram with fixed bounds from 10 µs to 1 s
 * (fd_stats_hist_us: the service counts into those buckets).
 *
 * Ownership: fd_metrics points at the caller's arrays and strings for the
 * duration of fd_metrics_write() only.
 */
#ifndef FD_METRICS_H
#define FD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "stats.h"

/* The latency buckets are the service's (stats.h): upper bounds in µs,
 * one more bucket is +Inf. */
#define FD_METRICS_BUCKETS FD_STATS_HIST_BUCKETS

typedef struct fd_metrics {
    /* filterd_requests_total{api,op}: requests[a * nops + o] */
    const char *const *apis;
    size_t napis;
    const char *const *ops;
    size_t nops;
    const uint64_t *requests;
    /* filterd_decisions_total{decision}: allow, flag, block */
    uint64_t decisions[3];
    /* filterd_matches_total{category,action}: matches[c * 2 + 0] flag,
     * [c * 2 + 1] block (counted matches only) */
    const char *const *cats;
    size_t ncats;
    const uint64_t *matches;
    /* filterd_request_duration_seconds: per bucket (not cumulative), the
     * last one +Inf; sum in µs */
    uint64_t lat[FD_METRICS_BUCKETS + 1];
    uint64_t lat_sum_us;
    uint64_t bytes_scanned;
    uint64_t connections;
    uint64_t streams;
    uint64_t rules;
    const char *ruleset_version;
    uint64_t reloads_ok, reloads_failed;
    uint64_t audit_records, audit_failures;
    const char *version;   /* filterd's */
    const char *hyperscan; /* the library's version string */
} fd_metrics;

/* Append the exposition of M to OUT. */
void fd_metrics_write(fd_buf *out, const fd_metrics *m);

#endif
