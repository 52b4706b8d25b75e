/*
 * ruletest.h — rule tests: "*.tests" files run in-process against a
 * compiled rule set (SPEC §3.4).
 *
 * File format: UTF-8, one case per line, "EXPECT<TAB>TEXT".
 *   EXPECT   allow | flag | block | block:CATEGORY | flag:CATEGORY
 *            block:CATEGORY passes when the decision is block and at least
 *            one counted (unsuppressed) block match is in CATEGORY;
 *            flag:CATEGORY likewise with flag. CATEGORY must exist in the
 *            rule set's categories.tsv.
 *   TEXT     everything after the first TAB (further TABs right after it are
 *            alignment and skipped; a TAB inside the text is written \t).
 *            Escapes: \n newline, \t tab, \\ backslash; any other backslash
 *            sequence is an error (so a mistyped escape never silently tests
 *            a different text). Must be non-empty valid UTF-8 after escapes.
 *   Blank lines and lines whose first non-blank character is '#' are
 *   ignored; a trailing CR (CRLF files) is dropped.
 * Malformed lines are errors "FILE:LINE: message"; failing cases are
 * reported as
 *   FILE:LINE: expected X, got Y (matches: rule-id[CAT] "excerpt" ...)
 * where allow and suppressed matches, which explain many surprises, are
 * listed as rule-id[CAT allow] / rule-id[CAT suppressed].
 *
 * Return codes: 0 when every case ran and every line parsed (failing cases
 * are not an error: see *nfailed); FD_ERULES when some line was malformed
 * or named an unknown category (reported in the diag; the well-formed cases
 * still ran); FD_EIO when a file or the directory cannot be read;
 * FD_ENOMEM / FD_EHS from the scanner.
 *
 * Ownership: the rule set is borrowed (the caller keeps its reference and
 * must keep it alive during the call); the fd_diag is the caller's and is
 * appended to; an fd_testlist owns its cases and their texts and is
 * released with fd_testlist_free(). Nothing here keeps global state, so
 * several threads may run tests at once with distinct diags.
 */
#ifndef FD_RULETEST_H
#define FD_RULETEST_H

#include <stddef.h>

#include "fd_error.h"
#include "rules.h"
#include "ruleset.h"

typedef struct fd_testcase {
    fd_action expect; /* expected decision */
    char *category;   /* block:CAT / flag:CAT, else NULL */
    char *text;       /* escapes resolved, NUL-terminated */
    size_t len;       /* bytes of text */
    unsigned line;    /* 1-based line in the file */
} fd_testcase;

typedef struct fd_testlist {
    char *file; /* file name as given to fd_ruletest_parse() */
    fd_testcase *cases;
    size_t n, cap;
} fd_testlist;

void fd_testlist_init(fd_testlist *tl);
void fd_testlist_free(fd_testlist *tl);

/* Parse the text of one tests file named FNAME (used in messages) into TL,
 * which must be initialized and is replaced. Every malformed line is
 * reported; the well-formed ones are kept either way. Returns 0, FD_ERULES
 * or FD_ENOMEM. */
int fd_ruletest_parse(const char *fname, const char *buf, size_t len, fd_testlist *tl,
                      fd_diag *diag);

/* Run the cases of TL against RS. Adds *ncases and *nfailed (the caller
 * zeroes them: counts accumulate over several calls); each failure is one
 * diag line. A case naming an unknown category is reported, counted as
 * failed, and makes the call return FD_ERULES. */
int fd_ruletest_run(const fd_ruleset *rs, const fd_testlist *tl, fd_diag *diag, size_t *ncases,
                    size_t *nfailed);

/* Parse and run BUF as a tests file named FNAME (fd_ruletest_parse() +
 * fd_ruletest_run()). Sets *ncases and *nfailed. */
int fd_ruletest_run_buf(const fd_ruleset *rs, const char *fname, const char *buf, size_t len,
                        fd_diag *diag, size_t *ncases, size_t *nfailed);

/* Every "*.tests" file below DIR (recursively, lexical order of the paths
 * relative to DIR, hidden entries skipped), named in messages by that
 * relative path. Sets *ncases, *nfailed and, if NFILES is not NULL, *nfiles. */
int fd_ruletest_run_dir(const fd_ruleset *rs, const char *dir, fd_diag *diag, size_t *nfiles,
                        size_t *ncases, size_t *nfailed);

#endif
