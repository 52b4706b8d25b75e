/*
 * audit_common.h — what filterctl's audit tools (cmd_audit.c: verify and
 * stats; audit_find.c; audit_report.c) share: RFC 3339 times, a line
 * reader over plain and gzip-compressed audit files, a string-keyed
 * counter table, category names from categories.tsv, and the counting of
 * records that `audit stats` prints and `audit report` reuses (so both
 * give the same figures by construction).
 *
 * Reading .gz: through zlib (gzopen/gzread), not a `gzip -dc` pipe. zlib
 * reads plain files transparently, so one code path serves both; a
 * truncated or corrupt archive is an error we can attribute to FILE:LINE
 * instead of a child's exit status; nothing depends on PATH or on forking
 * a process per file. Concatenated gzip members (`cat a.gz b.gz`) are read
 * as one stream, as gzip -dc would.
 *
 * Ownership: a reader owns its zlib handle and line buffer until
 * fa_reader_close(); a table owns its keys and strings until
 * fa_table_free(); a line returned by fa_reader_next() belongs to the
 * reader and is valid until the next call.
 */
#ifndef FILTERCTL_AUDIT_COMMON_H
#define FILTERCTL_AUDIT_COMMON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FA_NO_TIME INT64_MIN

/* ---- time ---- */

/* RFC 3339 date-time ("2026-11-22T10:15:06.123456Z", offsets "+08:00",
 * 't'/' ' separators, 'z') or a full date ("2026-11-22", midnight UTC) to
 * microseconds since the epoch. Returns 0 or -1. */
int fa_parse_time(const char *s, int64_t *us);

/* US as "2026-11-22T10:15:06.123456Z" into BUF (at least 32 bytes). */
void fa_format_time(int64_t us, char *buf, size_t n);

/* ---- reading audit files, plain or .gz ---- */

/* Longest line kept (the daemon's largest record is a few MiB: a 1 MiB
 * text escaped in `--audit-text full`); longer lines are reported as
 * corrupt and skipped, so a file without newlines cannot exhaust memory. */
#define FA_MAX_LINE (64u << 20)

typedef struct fa_reader {
    const char *path;
    void *gz; /* gzFile */
    char *in; /* decompressed input, [ipos, ilen) not consumed yet */
    size_t ipos, ilen;
    char *line; /* the current line, NUL-terminated */
    size_t len, cap;
    uint64_t lineno; /* of the current line, from 1 */
    bool torn;       /* the current line had no newline (end of file) */
    bool too_long;   /* the current line exceeded FA_MAX_LINE (line holds its start) */
    bool eof;
    char err[160]; /* why fa_reader_next() returned -1 */
} fa_reader;

/* Open PATH ("-": standard input). Returns 0, or -1 with errno set. */
int fa_reader_open(fa_reader *r, const char *path);
/* The next line (without '\n') in r->line/r->len: 1, 0 at the end, -1 on a
 * read or decompression error (r->err says which). */
int fa_reader_next(fa_reader *r);
void fa_reader_close(fa_reader *r);

/* ---- a string -> counters table (open addressing) ---- */

typedef struct fa_entry {
    char *key;
    char *category;            /* rules: the category of its first match; names: Chinese name */
    char *src;                 /* rules: FILE:LINE of its first match; names: English name */
    uint64_t count;            /* categories: records; rules: matches; others: records */
    uint64_t n[4];             /* days: records per decision (allow, flag, block, other) */
    int64_t first_us, last_us; /* rule sets: when they were seen */
} fa_entry;

typedef struct fa_table {
    fa_entry *e;
    size_t n, cap; /* cap a power of two */
} fa_table;

/* The entry of KEY, created (zeroed, first_us = last_us = FA_NO_TIME) if
 * missing; NULL when out of memory. */
fa_entry *fa_table_get(fa_table *t, const char *key);
/* The entry of KEY, or NULL. */
fa_entry *fa_table_find(const fa_table *t, const char *key);
void fa_table_free(fa_table *t);
/* The entries in an array sorted by CMP (caller frees the array only). */
fa_entry **fa_table_sorted(const fa_table *t, int (*cmp)(const void *, const void *));
int fa_by_count(const void *a, const void *b); /* count descending, then key */
int fa_by_key(const void *a, const void *b);

/* Read DIR/categories.tsv (id, Chinese, English, …) into NAMES: key = id,
 * category = Chinese name, src = English name. Returns 0 or -1 (reason
 * printed on stderr). */
int fa_load_names(fa_table *names, const char *dir);

/* ---- counting records (audit stats, audit report) ---- */

enum { FA_OP_CHECK, FA_OP_STREAM, FA_OP_PROXY, FA_OP_OTHER, FA_NOPS };
enum { FA_ALLOW, FA_FLAG, FA_BLOCK, FA_OTHER, FA_NDEC };
extern const char *const fa_op_names[FA_NOPS];
extern const char *const fa_decision_names[FA_NDEC];

typedef struct fa_stats {
    int64_t since, until; /* [since, until); FA_NO_TIME: open */
    uint64_t records, unparsed;
    uint64_t before_since, after_until; /* records left out by the range */
    uint64_t ops[FA_NOPS];
    uint64_t decisions[FA_NDEC];
    char first_ts[40], last_ts[40];
    int64_t first_us, last_us;
    fa_table cats;  /* category -> records with a match in it */
    fa_table rules; /* rule -> matches, with its category and src */
    /* Bounds, so that a file with millions of made-up rule ids cannot
     * exhaust memory: beyond them, counts go to *_other. Real rule sets
     * are far below (the taxonomy has ~40 categories; 100k-keyword vendor
     * lists are the largest rule sets seen). */
    uint64_t cats_other, rules_other;
} fa_stats;

#define FA_MAX_CATEGORIES 10000
#define FA_MAX_RULES      1000000

void fa_stats_init(fa_stats *c, int64_t since, int64_t until);
void fa_stats_free(fa_stats *c);

/* Count the parsed record J (a JSON object). *T gets its time (FA_NO_TIME
 * when it has none) and *DI its decision index. Returns 1 when counted, 0
 * when the time range left it out, -1 when out of memory. */
int fa_stats_add(fa_stats *c, const cJSON *j, int64_t *t, int *di);

/* ---- output ---- */

/* Write S to F as HTML/XML text: markup characters escaped, control
 * characters and invalid UTF-8 replaced by U+FFFD, so the output stays
 * well-formed whatever the audit file held. */
void fa_html_escape(FILE *f, const char *s);

/* ---- the actions (argument parsing is cmd_audit.c's) ---- */

typedef struct fa_opts {
    char **files; /* in the order given: oldest first */
    int nfiles;
    int64_t since, until;  /* --since (inclusive), --until (exclusive); FA_NO_TIME: open */
    const char *rules_dir; /* --rules DIR, or NULL */
    bool json;             /* --json */
    const char *id;        /* find: --id */
    bool have_sha256;      /* find: --sha256 HEX (lowercased) */
    char sha256[65];
    bool have_text; /* find: --text TEXT, hashed here */
    char text_hex[65];
    const char *html; /* report: --html OUT */
} fa_opts;

/* audit_find.c: print matching records; 0 some found, 1 none, 70 a file
 * could not be read. */
int fa_find(const fa_opts *o);
/* audit_report.c: write the report; 0 written and every chain intact, 1
 * written and a chain check failed, 70 error. */
int fa_report(const fa_opts *o);

#endif
