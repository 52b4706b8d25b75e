/*
 * lint.h — warnings about a rule set that loads but will not do what its
 * authors think (`filterctl rules lint`):
 *   - duplicates: two rules that normalize to the same pattern in the same view;
 *   - shadowed rules: a literal that contains another literal of the same
 *     category and action, so whenever it matches, the shorter one does too
 *     and it changes no decision;
 *   - literals so short that they will over-match (one Han character, or two
 *     Latin letters outside the `word` view);
 *   - rules of unbounded width (streams cannot hold back their whole match).
 *
 * Each warning goes to the caller's fd_diag as "FILE:LINE: warning: …".
 */
#ifndef FD_LINT_H
#define FD_LINT_H

#include "ruleset.h"

/* Append the warnings about RS to DIAG; returns how many, or FD_ENOMEM. */
int fd_lint(const fd_ruleset *rs, fd_diag *diag);

#endif
