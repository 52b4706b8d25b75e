/*
 * test_bundled_rules.c — the rule sets shipped in rules/: they load and
 * compile, every rule file has its "*.tests" beside it, every case of those
 * tests passes (so `make test` enforces them), and each A1/A2 risk keeps
 * the minimum coverage the moderation policy promises (rules/README.md).
 */
#include "testutil.h"

#include <dirent.h>

#include "ruletest.h"

#define BUNDLED FD_SOURCE_DIR "/rules"

static fd_ruleset *load_bundled(void)
{
    fd_diag diag = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    int r = fd_ruleset_load(BUNDLED, &rs, &diag);
    if (r) {
        char *all = fd_diag_join(&diag);
        cr_assert_fail("%s: %s\n%s", BUNDLED, fd_strerror(r), all ? all : "");
    }
    fd_diag_free(&diag);
    return rs;
}

Test(bundled_rules, all_tests_pass)
{
    fd_ruleset *rs = load_bundled();
    fd_diag diag = FD_DIAG_INIT;
    size_t nfiles = 0, ncases = 0, nfailed = 0;
    int r = fd_ruletest_run_dir(rs, BUNDLED, &diag, &nfiles, &ncases, &nfailed);
    for (size_t i = 0; i < diag.n; i++)
        fprintf(stderr, "rules/%s\n", diag.lines[i]);
    fprintf(stderr, "bundled rules: %zu rules, %zu test files, %zu passed, %zu failed\n",
            fd_ruleset_nrules(rs), nfiles, ncases - nfailed, nfailed);
    cr_expect_eq(r, 0, "errors in the test files: %s", fd_strerror(r));
    cr_expect_gt(nfiles, 0);
    cr_expect_eq(nfailed, 0, "%zu of %zu rule test cases failed (listed above)", nfailed, ncases);
    fd_diag_free(&diag);
    fd_ruleset_unref(rs);
}

/* Every FILE.rules has FILE.tests beside it: a rule file nobody tests is a
 * rule file nobody notices breaking. */
Test(bundled_rules, every_rule_file_has_tests)
{
    fd_ruleset *rs = load_bundled();
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    cr_assert_gt(rl->nfiles, 0);
    for (size_t i = 0; i < rl->nfiles; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", BUNDLED, rl->files[i]);
        size_t l = strlen(path);
        cr_assert(l > 6 && strcmp(path + l - 6, ".rules") == 0);
        strcpy(path + l - 6, ".tests");
        cr_expect_eq(access(path, R_OK), 0, "no tests for rules/%s", rl->files[i]);
    }
    fd_ruleset_unref(rs);
}

/* Coverage floor: detection (block/flag) rules per risk. */
Test(bundled_rules, coverage_per_risk)
{
    fd_ruleset *rs = load_bundled();
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    size_t *n = calloc(rl->ncats, sizeof *n);
    cr_assert(n);
    for (size_t i = 0; i < rl->nrules; i++)
        if (rl->rules[i].action != FD_ALLOW)
            n[rl->rules[i].category]++;
    for (size_t c = 0; c < rl->ncats; c++) {
        const char *id = rl->cats[c].id;
        size_t want = 0;
        if (strncmp(id, "A1.", 3) == 0)
            want = 20;
        else if (strncmp(id, "A2.", 3) == 0)
            want = 10;
        else if (!strcmp(id, "A3.3") || !strcmp(id, "A4.1") || !strcmp(id, "A4.6"))
            want = 1;
        cr_expect_geq(n[c], want, "%s has %zu detection rules, policy wants at least %zu", id, n[c],
                      want);
    }
    free(n);
    fd_ruleset_unref(rs);
}
