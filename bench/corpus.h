/*
 * corpus.h — bench inputs: benign messages cut from Debian's fortunes
 * corpora, and seeded synthetic keyword rule sets.
 *
 * Everything returned is malloc'd and owned by the caller (free with the
 * matching *_free).
 */
#ifndef FD_BENCH_CORPUS_H
#define FD_BENCH_CORPUS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_msgs {
    char **msg;
    size_t *len;
    size_t n;
    size_t total; /* bytes over all messages */
} bench_msgs;

/* Concatenate the fortunes corpora (Chinese and English entries
 * interleaved) and cut it into messages of about SIZE bytes, each cut on a
 * character boundary, at most MAX messages. Returns 0 or -1 (no corpus). */
int bench_msgs_load(size_t size, size_t max, bench_msgs *out);
void bench_msgs_free(bench_msgs *m);

/* Whole fortunes (one paragraph each, as written) of fortunes-zh (ZH) or
 * of the English fortunes, at most MAX of them and each at most MAXLEN
 * bytes. Returns 0 or -1 (no corpus). */
int bench_paras_load(int zh, size_t max, size_t maxlen, bench_msgs *out);

typedef struct bench_keywords {
    char **kw; /* NUL-terminated UTF-8 keywords */
    size_t n;
} bench_keywords;

/* N seeded synthetic keywords shaped like real lists: half 2–6-character
 * Chinese terms, half English phrases of rare pseudo-words. */
void bench_keywords_make(size_t n, uint64_t seed, bench_keywords *out);
void bench_keywords_free(bench_keywords *k);

/* Write a rule directory (categories.tsv, keywords.rules with the keywords
 * as literals, and NREGEX synthetic bounded regexes) under a new temporary
 * directory; returns its malloc'd path. */
char *bench_ruledir_make(const bench_keywords *k, size_t nregex, uint64_t seed);
void bench_ruledir_remove(char *dir);

#endif
