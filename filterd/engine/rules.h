/*
 * rules.h — parse rule files into a rule list (SPEC §3.1–3.2).
 *
 * Pure parsing: no Hyperscan here. fd_rules_load_dir() reads
 * DIR/categories.tsv and every "*.rules" file below DIR (recursively, in
 * lexical order of their paths relative to DIR), and fills a caller-owned
 * fd_rulelist. Every error is appended to the fd_diag as "FILE:LINE: message"
 * with FILE relative to DIR; if there is any error the list is left empty
 * (all-or-nothing) and FD_ERULES is returned.
 *
 * Ownership: everything reachable from an fd_rulelist is owned by it and
 * released by fd_rulelist_free(), which also resets it to empty.
 */
#ifndef FD_RULES_H
#define FD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fd_error.h"

/* Ordered by severity: a decision is the maximum over the counted matches. */
typedef enum fd_action { FD_ALLOW = 0, FD_FLAG = 1, FD_BLOCK = 2 } fd_action;

typedef enum fd_view {
    FD_VIEW_NORMALIZED = 0,
    FD_VIEW_WORD = 1,
    FD_VIEW_RAW = 2,
    FD_VIEW_MAX = 3
} fd_view;

/* Regex flags of a "/REGEX/FLAGS" pattern line. */
#define FD_RX_CASELESS  0x1u /* i */
#define FD_RX_DOTALL    0x2u /* s */
#define FD_RX_MULTILINE 0x4u /* m */

typedef struct fd_category {
    char *id;     /* "A1.4" */
    char *zh;     /* Chinese name */
    char *en;     /* English name */
    char *clause; /* Article 4 clause, e.g. "(1)" */
} fd_category;

/* Kinds of rule: a pattern; a co-occurrence rule (@all); one part of one. */
#define FD_RULE_PATTERN 0
#define FD_RULE_COMBO   1
#define FD_RULE_PART    2
#define FD_MAX_PARTS    16

typedef struct fd_rule {
    char *id;          /* @id NAME, or a stable id derived from category+pattern */
    bool named;        /* id came from @id */
    uint32_t category; /* index into fd_rulelist.cats */
    fd_action action;
    fd_view view;
    bool regex;        /* pattern is a regex source, else a literal */
    unsigned rx_flags; /* FD_RX_* for regexes */
    uint8_t validator; /* fd_validator (validate.h): @validate NAME */
    uint8_t kind;      /* FD_RULE_*: parts are internal, never reported */
    uint8_t negated;   /* PART: a "!PART" that must not occur */
    uint32_t combo;    /* PART: index of its @all rule */
    uint32_t within;   /* COMBO: all parts within this many characters; 0 anywhere */
    char *pattern;     /* literal (escapes resolved, trimmed) or regex source;
                        * COMBO: the @all line's parts as written */
    size_t pattern_len;
    uint32_t file; /* index into fd_rulelist.files */
    unsigned line; /* 1-based line in that file */
} fd_rule;

typedef struct fd_rulelist {
    fd_category *cats;
    size_t ncats;
    fd_rule *rules;
    size_t nrules;
    char **files; /* paths relative to the rule directory */
    size_t nfiles;
    char version[65]; /* lowercase hex SHA-256 over file names and contents */
} fd_rulelist;

void fd_rulelist_init(fd_rulelist *rl);
void fd_rulelist_free(fd_rulelist *rl);

/* Load DIR as described above. Returns 0, FD_ERULES (errors in diag),
 * FD_EIO (DIR itself unreadable; also in diag) or FD_ENOMEM. */
int fd_rules_load_dir(const char *dir, fd_rulelist *rl, fd_diag *diag);

/* Building blocks, exposed for tests and tools (filterctl rules import):
 * parse categories.tsv text, or one rule file's text named FNAME, appending
 * to rl. Return 0 or FD_ERULES/FD_ENOMEM; errors go to diag. They do not
 * roll back on error and do not update rl->version. */
int fd_rules_parse_categories(fd_rulelist *rl, const char *fname, const char *buf, size_t len,
                              fd_diag *diag);
int fd_rules_parse_file(fd_rulelist *rl, const char *fname, const char *buf, size_t len,
                        fd_diag *diag);

/* The paths, relative to DIR, of the files below DIR whose names end in
 * SUFFIX (".rules", ".tests"), hidden entries skipped, in lexical order:
 * the walk the loader makes. *PATHS is malloc'd (fd_rules_free_paths()),
 * also when an unreadable directory made the result FD_EIO/FD_ERULES. */
int fd_rules_find_files(const char *dir, const char *suffix, char ***paths, size_t *n,
                        fd_diag *diag);
void fd_rules_free_paths(char **paths, size_t n);

/* Read ROOT/REL whole into a malloc'd, NUL-terminated *BUF (caller frees),
 * as the loader reads rule files: a world-writable or oversized file is
 * refused. Errors go to DIAG as "REL:0: message"; returns 0, FD_EIO,
 * FD_ERULES or FD_ENOMEM. */
int fd_rules_read_file(const char *root, const char *rel, char **buf, size_t *len, fd_diag *diag);

/* Index of category ID in rl, or -1. */
int fd_rules_find_category(const fd_rulelist *rl, const char *id);

const char *fd_action_name(fd_action a); /* "allow" | "flag" | "block" */
const char *fd_view_name(fd_view v);     /* "normalized" | "word" | "raw" */

#endif
