/*
 * import.h — turn a vendor's keyword list into a rule file
 * (`filterctl rules import`, SPEC §3.5).
 *
 * The list is one keyword per line, in UTF-8 (with or without a BOM),
 * UTF-16 with a BOM, or GB18030; an optional header line ("keyword",
 * "关键词", …) is dropped; of a tab-separated line only the first field is
 * the keyword. Keywords are trimmed, escaped where the rule grammar needs
 * it, and deduplicated after normalization (the `normalized` view's), so
 * `炸彈` and `炸弹` make one rule.
 *
 * An import never writes a rule that does harm as written. A keyword is
 * judged by what it normalizes to, since that is what the rule matches:
 * dropped are lines with control characters (C0, DEL, C1), lines with
 * nothing left after normalization, keywords made only of enclosed forms
 * (`㈠` reads `一`, `①` reads `1`: the rule would match the plain form in
 * every text), keywords that normalize to a single character or to digits,
 * punctuation and symbols only, duplicates within the list and keywords
 * equal after normalization to a rule of an existing rule set. Keywords
 * whose letters are all of an alphabetic script that separates words
 * with spaces (Latin, Greek, Cyrillic) are written with `@match word`, so
 * `is` does not match inside `this`. With a benign corpus, a keyword that
 * matches more than `benign_max` of its paragraphs is written commented out
 * for review, with the count and one example. Every dropped line is
 * reported as "SOURCE:LINE: dropped: reason".
 */
#ifndef FD_IMPORT_H
#define FD_IMPORT_H

#include <stddef.h>
#include <stdio.h>

#include "rules.h"

/*
 * A benign corpus: texts known to be acceptable, split into paragraphs
 * (documents). A paragraph ends at a blank line or at a line that is only
 * `%` (the fortune(6) file format). Ownership: the corpus owns copies of
 * everything added to it; fd_benign_free() releases them.
 */
typedef struct fd_benign fd_benign;

int fd_benign_new(fd_benign **out); /* 0 or FD_ENOMEM */
void fd_benign_free(fd_benign *b);
/* Add the text BUF[0..LEN) named NAME (for examples: "NAME:LINE").
 * Returns 0, FD_EUTF8 (not valid UTF-8: nothing added) or FD_ENOMEM. */
int fd_benign_add(fd_benign *b, const char *name, const char *buf, size_t len);
/* Paragraphs held (lines of white space only are not paragraphs). */
size_t fd_benign_docs(const fd_benign *b);
/* Paragraph I (< fd_benign_docs()): its text (NUL-terminated, trailing
 * white space removed), valid as long as the corpus and no fd_benign_add()
 * is made. */
const char *fd_benign_doc(const fd_benign *b, size_t i, size_t *len);

/* Why a line was not imported; the report counts each. */
typedef enum fd_import_reason {
    FD_IMP_HEADER = 0, /* a header line ("keyword", "关键词") */
    FD_IMP_CONTROL,    /* a control character (C0, DEL, C1) */
    FD_IMP_TOO_LONG,   /* longer than 512 bytes: a sentence */
    FD_IMP_EMPTY,      /* nothing left after normalization */
    FD_IMP_ENCLOSED,   /* only enclosed or circled forms */
    FD_IMP_SINGLE,     /* one character after normalization */
    FD_IMP_DIGITS,     /* only digits, punctuation and symbols */
    FD_IMP_EXISTING,   /* equal after normalization to a rule of --rules */
    FD_IMP_DUPLICATE,  /* equal after normalization to an earlier line */
    FD_IMP_NREASONS
} fd_import_reason;

/* A short English name of a reason, for the report. */
const char *fd_import_reason_name(fd_import_reason r);

typedef struct fd_import_opts {
    const char *category;        /* @category of the output (the caller checks it exists) */
    fd_action action;            /* @action of the output */
    const char *source;          /* the list's name, for the header comment and reports */
    const fd_rulelist *existing; /* rules already in use (--rules DIR), or NULL */
    const fd_benign *benign;     /* benign corpus (--benign), or NULL */
    size_t benign_max;           /* more benign paragraphs than this: review */
} fd_import_opts;

typedef struct fd_import_stats {
    size_t imported;                /* written as rules */
    size_t review;                  /* written commented out, for review */
    size_t dropped;                 /* not written */
    size_t reason[FD_IMP_NREASONS]; /* dropped, per reason */
    size_t benign_docs;             /* paragraphs of the corpus scanned */
    size_t word;                    /* of the imported, written with @match word */
} fd_import_stats;

/*
 * Read the list BUF[0..LEN) and write the rule file to OUT. Dropped lines go
 * to REPORT as "SOURCE:LINE: dropped: reason"; *ST receives the counts.
 * Returns 0, FD_EUTF8 (neither UTF-8, UTF-16 nor GB18030), FD_ENOMEM,
 * FD_EIO (writing OUT failed), or an engine error of the benign scan
 * (FD_EHS; FD_ERULES with the messages in REPORT if the generated rules did
 * not compile, which would be a bug).
 */
int fd_import_keywords(const char *buf, size_t len, const fd_import_opts *o, FILE *out,
                       fd_diag *report, fd_import_stats *st);

#endif
