/*
 * lint.h — warnings about a rule set that loads but will not do what its
 * authors think (`filterctl rules lint`), each of a kind (fd_lint_kind):
 *   - duplicates: two rules that normalize to the same pattern in the same view;
 *   - shadowed rules: a literal that contains another literal of the same
 *     category and action, so whenever it matches, the shorter one does too
 *     and it changes no decision;
 *   - literals that normalize to a single character, or to digits and
 *     punctuation only (harmful: they match inside most texts), and two
 *     Latin letters outside the `word` view;
 *   - with a benign corpus, rules that match its text (harmful);
 *   - regexes with characters normalization changes;
 *   - rules of unbounded width (streams cannot hold back their whole match).
 *
 * Each warning goes to the caller's fd_diag as "FILE:LINE: warning: …",
 * with the normalized form beside every literal it names ('㈠' reads '一').
 */
#ifndef FD_LINT_H
#define FD_LINT_H

#include "import.h"
#include "ruleset.h"

typedef enum fd_lint_kind {
    FD_LINT_SINGLE = 0, /* harmful: a literal of one character after normalization */
    FD_LINT_DIGITS,     /* harmful: a literal of digits and punctuation only */
    FD_LINT_BENIGN,     /* harmful: a rule that matches benign text */
    FD_LINT_SHORT,      /* two Latin letters outside the word view */
    FD_LINT_DUPLICATE,
    FD_LINT_SHADOWED,
    FD_LINT_REGEX_CHARS,
    FD_LINT_UNBOUNDED,
    FD_LINT_NKINDS
} fd_lint_kind;

/* "single character", "digits only", …; and whether warnings of the kind
 * are harmful (`lint --strict` fails on them). */
const char *fd_lint_kind_name(fd_lint_kind k);
int fd_lint_harmful(fd_lint_kind k);

/* Append the warnings about RS to DIAG; returns how many, or FD_ENOMEM. */
int fd_lint(const fd_ruleset *rs, fd_diag *diag);

/* The same, also scanning the paragraphs of BENIGN (NULL: none) for rules
 * that match benign text (each named with its count and one example), and
 * counting the warnings per kind into
 * COUNT[FD_LINT_NKINDS]. Returns the total, FD_ENOMEM or FD_EHS. */
int fd_lint_ex(const fd_ruleset *rs, const fd_benign *benign, fd_diag *diag,
               size_t count[FD_LINT_NKINDS]);

#endif
