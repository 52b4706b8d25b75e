/*
 * cmd_rules.c — `filterctl rules check DIR` and `filterctl rules test DIR`
 * (SPEC §1, §3.4). No daemon involved: the rules are loaded, compiled and,
 * for `test`, exercised in-process by the same engine the daemon links, so
 * what passes here is what the daemon will do.
 *
 *   check  load + compile; print a summary (rules per category, per view,
 *          per action; compile time) and exit 0, or print every
 *          "FILE:LINE: message" to stderr and exit 1.
 *   test   check, then run every "*.tests" below DIR; print each failure
 *          (and each malformed test line) as "FILE:LINE: ..." and a final
 *          line "N passed, M failed"; exit 0 when every case passed and
 *          every line parsed, else 1.
 *   lint   check, then print the linter's warnings (lint.h) as
 *          "FILE:LINE: warning: ..." and a final "N warnings"; warnings do
 *          not change the exit status (0), rule errors do (1).
 * Exit 64 on usage errors, 70 on internal errors (out of memory, Hyperscan).
 * FILE is relative to DIR, as in the daemon's own messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_error.h"
#include "lint.h"
#include "ruleset.h"
#include "ruletest.h"

int filterctl_rules_main(int argc, char **argv);

#define EX_OK_ 0
#define EX_FAIL_ 1
#define EX_USAGE_ 64
#define EX_SOFTWARE_ 70

static void usage(FILE *f)
{
    fputs("usage: filterctl rules check DIR   load and compile DIR, print a summary\n"
          "       filterctl rules test DIR    check, then run every *.tests file below DIR\n"
          "       filterctl rules lint DIR    check, then print warnings about rules that\n"
          "                                   load but may not do what their authors think\n",
          f);
}

static void print_diag(const fd_diag *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(f, "%s\n", d->lines[i]);
}

/* Exit status for an engine error code that is not about the rules. */
static int internal_error(const char *what, int err)
{
    fprintf(stderr, "filterctl: %s: %s\n", what, fd_strerror(err));
    return EX_SOFTWARE_;
}

/*
 * Load and compile DIR into *OUT. On rule errors print them (stderr) and
 * return 1; on internal errors return 70; else 0 with *OUT holding one
 * reference for the caller.
 */
static int load(const char *dir, fd_ruleset **out)
{
    fd_diag diag = FD_DIAG_INIT;
    int r = fd_ruleset_load(dir, out, &diag);
    print_diag(&diag, stderr);
    fd_diag_free(&diag);
    if (r == FD_ERULES || r == FD_EIO) {
        fprintf(stderr, "filterctl: %s: the rule set has errors\n", dir);
        return EX_FAIL_;
    }
    if (r)
        return internal_error(dir, r);
    return EX_OK_;
}

/* The summary of `rules check`: what a moderator wants to see before a
 * reload — coverage per category, and how the rules will be matched. */
static void summary(const char *dir, const fd_ruleset *rs)
{
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    size_t (*per)[3] = calloc(rl->ncats ? rl->ncats : 1, sizeof *per);
    size_t act[3] = {0, 0, 0}, rx = 0;
    for (size_t i = 0; i < rl->nrules; i++) {
        const fd_rule *r = &rl->rules[i];
        if (per)
            per[r->category][r->action]++;
        act[r->action]++;
        rx += r->regex;
    }
    printf("%s: OK\n", dir);
    printf("version   %s\n", fd_ruleset_version(rs));
    printf("files     %zu\n", rl->nfiles);
    printf("rules     %zu (%zu literals, %zu regexes)\n", rl->nrules, rl->nrules - rx, rx);
    printf("compiled  %.1f ms, %zu bytes (Hyperscan %s)\n", fd_ruleset_compile_ms(rs),
           fd_ruleset_db_bytes(rs), fd_hs_version());
    printf("per action: block %zu, flag %zu, allow %zu\n", act[FD_BLOCK], act[FD_FLAG],
           act[FD_ALLOW]);
    printf("per view:   normalized %zu, word %zu, raw %zu\n",
           fd_ruleset_view_rules(rs, FD_VIEW_NORMALIZED), fd_ruleset_view_rules(rs, FD_VIEW_WORD),
           fd_ruleset_view_rules(rs, FD_VIEW_RAW));
    printf("per category:    total  block   flag  allow\n");
    size_t empty = 0;
    for (size_t c = 0; per && c < rl->ncats; c++) {
        size_t t = per[c][0] + per[c][1] + per[c][2];
        if (!t) {
            empty++;
            continue;
        }
        printf("  %-6s %-4s %6zu %6zu %6zu %6zu  %s\n", rl->cats[c].id, rl->cats[c].clause, t,
               per[c][FD_BLOCK], per[c][FD_FLAG], per[c][FD_ALLOW], rl->cats[c].en);
    }
    if (empty) {
        printf("categories without rules:");
        for (size_t c = 0; per && c < rl->ncats; c++)
            if (!(per[c][0] + per[c][1] + per[c][2]))
                printf(" %s", rl->cats[c].id);
        printf("\n");
    }
    free(per);
}

static int cmd_check(const char *dir)
{
    fd_ruleset *rs = NULL;
    int ex = load(dir, &rs);
    if (ex)
        return ex;
    summary(dir, rs);
    fd_ruleset_unref(rs);
    return EX_OK_;
}

static int cmd_test(const char *dir)
{
    fd_ruleset *rs = NULL;
    int ex = load(dir, &rs);
    if (ex)
        return ex;
    fd_diag diag = FD_DIAG_INIT;
    size_t nfiles = 0, ncases = 0, nfailed = 0;
    int r = fd_ruletest_run_dir(rs, dir, &diag, &nfiles, &ncases, &nfailed);
    print_diag(&diag, stdout);
    fd_diag_free(&diag);
    fd_ruleset_unref(rs);
    if (r && r != FD_ERULES && r != FD_EIO)
        return internal_error(dir, r);
    printf("%zu passed, %zu failed\n", ncases - nfailed, nfailed);
    fflush(stdout);
    if (r) {
        fprintf(stderr, "filterctl: %s: errors in the test files (see above)\n", dir);
        return EX_FAIL_;
    }
    if (nfiles == 0)
        fprintf(stderr, "filterctl: %s: no *.tests files found\n", dir);
    return nfailed ? EX_FAIL_ : EX_OK_;
}

static int cmd_lint(const char *dir)
{
    fd_ruleset *rs = NULL;
    int ex = load(dir, &rs);
    if (ex)
        return ex;
    fd_diag diag = FD_DIAG_INIT;
    int n = fd_lint(rs, &diag);
    print_diag(&diag, stdout);
    fd_diag_free(&diag);
    fd_ruleset_unref(rs);
    if (n < 0)
        return internal_error(dir, n);
    printf("%d warning%s\n", n, n == 1 ? "" : "s");
    return EX_OK_;
}

/*
 * Entry point from filterctl's dispatcher: ARGV[0] is "rules", ARGV[1] the
 * action, ARGV[2] the rule directory. Returns the process exit status.
 */
int filterctl_rules_main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
                      !strcmp(argv[1], "help"))) {
        usage(stdout);
        return EX_OK_;
    }
    if (argc != 3 || argv[2][0] == '\0' ||
        (argv[2][0] == '-' && argv[2][1] != '\0')) {
        usage(stderr);
        return EX_USAGE_;
    }
    if (!strcmp(argv[1], "check"))
        return cmd_check(argv[2]);
    if (!strcmp(argv[1], "test"))
        return cmd_test(argv[2]);
    if (!strcmp(argv[1], "lint"))
        return cmd_lint(argv[2]);
    fprintf(stderr, "filterctl: rules: unknown action '%s'\n", argv[1]);
    usage(stderr);
    return EX_USAGE_;
}
