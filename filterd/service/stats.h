/*
 * stats.h — per-thread counters, summed on demand for the `stats` op.
 *
 * Each worker thread owns one fd_stats and is its only writer, so counting
 * is a relaxed load and store (no locked instruction, no shared cache line).
 * Any thread may read every worker's counters at any time with relaxed
 * loads; a `stats` reply is therefore a consistent-enough snapshot, not an
 * atomic one.
 *
 * Latency is kept in a log-linear histogram (4 buckets per power of two,
 * exact below 8 µs); percentiles are reported as the upper bound of the
 * bucket that holds them, i.e. with at most 25 % overestimation.
 *
 * Categories are counted by their index in the rule set that decided; a
 * reload that reorders categories.tsv therefore shifts earlier counts (the
 * reply names categories from the current rule set).
 *
 * The transport counts connections into the same structure (conns_*).
 *
 * Ownership: plain data, no pointers; each fd_svc_thread embeds one.
 */
#ifndef FD_STATS_H
#define FD_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "codes.h"

#define FD_STATS_MAX_CATS    256
#define FD_STATS_LAT_BUCKETS 128

/* The latency histogram of the metrics exposition: upper bounds in µs,
 * 10 µs .. 1 s; one more bucket holds the rest (+Inf). */
#define FD_STATS_HIST_BUCKETS 16
extern const uint64_t fd_stats_hist_us[FD_STATS_HIST_BUCKETS];
/* The bucket of a latency of US µs: 0 .. FD_STATS_HIST_BUCKETS. */
unsigned fd_stats_hist_bucket(uint64_t us);

typedef _Atomic uint64_t fd_counter;

typedef struct fd_stats {
    fd_counter ops[FD_API_COUNT][FD_OP_COUNT];  /* requests per interface and op */
    fd_counter errors[FD_SVC_NERR];             /* error answers per SPEC code (codes.h) */
    fd_counter decisions[3];                    /* per fd_action */
    fd_counter categories[FD_STATS_MAX_CATS];   /* checks with a counted match in it */
    fd_counter bytes;                           /* text bytes scanned */
    fd_counter lat[FD_STATS_LAT_BUCKETS];       /* check latency, µs */
    fd_counter matches[FD_STATS_MAX_CATS][2];   /* counted matches: [0] flag, [1] block */
    fd_counter hist[FD_STATS_HIST_BUCKETS + 1]; /* check latency, metrics buckets */
    fd_counter lat_sum_us;                      /* sum of check latencies */
    fd_counter conns_current;
    fd_counter conns_total;
    fd_counter conns_rejected;  /* over --max-connections */
    fd_counter streams_current; /* open now */
    fd_counter streams_total;   /* opened */
    fd_counter streams_blocked; /* ended by a block */
    fd_counter streams_expired; /* ended by --stream-timeout */
    fd_counter streams_bytes;   /* text bytes fed to streams */
    fd_counter streams_mem;     /* fd_stream_bytes() of the open ones */
} fd_stats;

/* Single-writer increment: only the owning thread calls these. */
static inline void fd_stat_add(fd_counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void fd_stat_sub(fd_counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - n,
                          memory_order_relaxed);
}

void fd_stats_latency(fd_stats *s, uint64_t us);

/* Daemon-wide values that are not per-thread counters. */
typedef struct fd_stats_extra {
    const char *rules_version;
    size_t rules_count;
    const char *const *cat_ids; /* names of category indices, ncats of them */
    size_t ncats;
    uint64_t reloads_ok, reloads_failed;
    uint64_t last_reload_at; /* unix seconds, 0: no reload yet */
    int last_reload_ok;
    uint64_t last_reload_us; /* compile or cache-load time of the last good reload */
    int last_reload_cached;
    double rules_load_ms; /* the rule set in use: compile or cache-load time */
    int rules_cached;
    uint64_t uptime_s;
    unsigned threads;
    int audit_enabled;
    uint64_t audit_records, audit_writes; /* since start: records, write(2) calls */
    uint64_t audit_errors;                /* failed writes (batches answered audit_failed) */
    uint64_t audit_next_seq;
    int audit_failing; /* the last write failed */
} fd_stats_extra;

/*
 * Every counter summed over the threads at one moment (relaxed loads: a
 * consistent-enough picture, not an atomic one), plus the daemon-wide
 * values. What `stats` prints and what a metrics exposition reads.
 * Borrowed strings in `x` are valid while the thread that took the
 * snapshot keeps its rule set (until its next reload switch).
 */
typedef struct fd_stats_snapshot {
    uint64_t ops[FD_API_COUNT][FD_OP_COUNT];
    uint64_t errors[FD_SVC_NERR];
    uint64_t decisions[3];
    uint64_t categories[FD_STATS_MAX_CATS];
    uint64_t bytes;
    uint64_t lat[FD_STATS_LAT_BUCKETS];
    uint64_t matches[FD_STATS_MAX_CATS][2];
    uint64_t hist[FD_STATS_HIST_BUCKETS + 1];
    uint64_t lat_sum_us;
    uint64_t conns_current, conns_total, conns_rejected;
    uint64_t streams_current, streams_total, streams_blocked, streams_expired, streams_bytes,
        streams_mem;
    uint64_t per_thread_conns[256];
    size_t nthreads;
    fd_stats_extra x;
} fd_stats_snapshot;

/* Sum the NTHREADS counters of THREADS into SNAP (x is left alone). */
void fd_stats_sum(fd_stats_snapshot *snap, fd_stats *const *threads, size_t nthreads);

/* Upper bound (µs) of latency bucket B: for histograms and percentiles. */
uint64_t fd_stats_lat_upper(unsigned b);

/* Append the body of a `stats` reply (members, no braces) to OUT. */
void fd_stats_write(fd_buf *out, const fd_stats_snapshot *snap);

#endif
