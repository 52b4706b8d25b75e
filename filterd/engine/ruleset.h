/*
 * ruleset.h — a compiled, immutable, reference-counted rule set.
 *
 * fd_ruleset_compile() turns a parsed rule list into one Hyperscan database
 * per matching view (plus PCRE2 codes for regexes that Hyperscan can only
 * prefilter). A rule set never changes after it is built, so any number of
 * threads may scan with it at once, each with its own fd_scratch (scan.h).
 *
 * Ownership: fd_ruleset_compile() takes the contents of *rl on success
 * (leaving *rl empty); on failure *rl is untouched and still the caller's.
 * The new rule set has one reference; fd_ruleset_ref()/fd_ruleset_unref()
 * are atomic and thread-safe; the last unref frees it.
 */
#ifndef FD_RULESET_H
#define FD_RULESET_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

typedef struct fd_ruleset fd_ruleset;

int fd_ruleset_compile(fd_rulelist *rl, fd_ruleset **out, fd_diag *diag);

/* fd_rules_load_dir() + fd_ruleset_compile(). */
int fd_ruleset_load(const char *dir, fd_ruleset **out, fd_diag *diag);

typedef struct fd_ruleset_opts {
    const char *cache_dir; /* compiled-database cache (cache.h), or NULL */
    /* A database of this many expressions or more is compiled in a forked
     * child process, which sends it back serialized: the compiler's peak
     * memory (several times the database) and the fragmentation it leaves
     * never reach the caller's address space. 0: FD_ISOLATE_DEFAULT;
     * SIZE_MAX: never. Without fork (or if the child dies) the compile
     * runs in process. */
    size_t isolate_min;
} fd_ruleset_opts;

#define FD_ISOLATE_DEFAULT 4096

/* The same, with options (NULL: the defaults). With a cache directory, an
 * unchanged rule set loads its databases from it instead of compiling. */
int fd_ruleset_compile_opts(fd_rulelist *rl, const fd_ruleset_opts *o, fd_ruleset **out,
                            fd_diag *diag);
int fd_ruleset_load_opts(const char *dir, const fd_ruleset_opts *o, fd_ruleset **out,
                         fd_diag *diag);
/* Whether the databases came from the cache; and a word on why not
 * ("missing", "foreign or corrupt", …; NULL when no cache was used). */
int fd_ruleset_cached(const fd_ruleset *rs);
const char *fd_ruleset_cache_note(const fd_ruleset *rs);

fd_ruleset *fd_ruleset_ref(fd_ruleset *rs);
void fd_ruleset_unref(fd_ruleset *rs);

/* Accessors; returned pointers live as long as the rule set. */
const fd_rulelist *fd_ruleset_rules(const fd_ruleset *rs);
const char *fd_ruleset_version(const fd_ruleset *rs);
size_t fd_ruleset_nrules(const fd_ruleset *rs);
const fd_rule *fd_ruleset_rule(const fd_ruleset *rs, uint32_t idx);
const fd_category *fd_ruleset_category(const fd_ruleset *rs, uint32_t idx);
const char *fd_ruleset_file(const fd_ruleset *rs, uint32_t idx);
/* Number of rules using a view (0: the view is skipped at scan time). */
size_t fd_ruleset_view_rules(const fd_ruleset *rs, fd_view v);
/* Longest possible match of rule IDX in bytes of the text it scans, or
 * FD_WIDTH_UNBOUNDED (a regex with * or +): what a stream must hold back. */
#define FD_WIDTH_UNBOUNDED UINT32_MAX
uint32_t fd_ruleset_rule_width(const fd_ruleset *rs, uint32_t idx);
/* Number of @all (co-occurrence) rules. Their parts are rules too, of
 * kind FD_RULE_PART, right after each: internal, never reported. */
size_t fd_ruleset_combos(const fd_ruleset *rs);
/* Number of rules of unbounded width. */
size_t fd_ruleset_unbounded(const fd_ruleset *rs);
/* Bytes of Hyperscan stream state one open stream needs. */
size_t fd_ruleset_stream_state_bytes(const fd_ruleset *rs);
/* Wall-clock time the compile (or the cache load) took, in milliseconds. */
double fd_ruleset_compile_ms(const fd_ruleset *rs);
/* Bytes of the compiled Hyperscan databases. */
size_t fd_ruleset_db_bytes(const fd_ruleset *rs);

/* The Hyperscan (vectorscan) library version string. */
const char *fd_hs_version(void);

#endif
