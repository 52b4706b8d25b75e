/*
 * lag.h — fd_bench's stream release figures (see lag.c). Everything is
 * run in process, single-threaded; nothing here is timed.
 */
#ifndef FD_BENCH_LAG_H
#define FD_BENCH_LAG_H

#include "corpus.h"
#include "scan.h"
#include "stream.h"

typedef struct lag_stats {
    uint32_t median, p99, max; /* bytes received − bytes released, after each chunk */
    size_t samples, streams, blocked;
    size_t mid_char; /* releases inside a character (must be 0) */
} lag_stats;

/* Stream every message of P in chunks of 3 characters under policy POL. */
void lag_run(fd_ruleset *rs, fd_scratch *s, const bench_msgs *p, fd_stream_policy pol,
             lag_stats *o);

typedef struct block_stats {
    uint32_t median, p99, max; /* bytes received at the report − end of the match */
    size_t texts;              /* texts whose whole check blocks */
    size_t late;               /* reported after the chunk bringing 64 bytes past the match's end */
    size_t missed;             /* the stream did not block (must be 0) */
} block_stats;

/* TRIES texts: a keyword of KW inserted at a seeded random position of a
 * message of P, streamed in chunks of 3 characters. */
void block_run(fd_ruleset *rs, fd_scratch *s, const bench_msgs *p, const bench_keywords *kw,
               size_t tries, fd_stream_policy pol, block_stats *o);

/* The block literals of RS (normalized and word views), as written. */
void block_keywords(const fd_ruleset *rs, bench_keywords *out);

/* A seeded list of N keywords shaped like Chinese vendor lists: 2–6 Han
 * characters drawn as often as the Chinese corpus ZH uses them, about one
 * in eight a Latin/digit word; those matching ZH or EN are dropped
 * (*DROPPED). Returns the list compiled, or NULL. */
fd_ruleset *vendor_make(size_t n, const bench_msgs *zh, const bench_msgs *en, bench_keywords *out,
                        size_t *dropped);

#endif
