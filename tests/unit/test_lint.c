/*
 * test_lint.c — rule-set warnings: duplicates after normalization,
 * shadowed literals, over-short literals, unbounded widths.
 */
#include "testutil.h"

#include "lint.h"

static char *lint(const char *rules, int *count)
{
    fd_ruleset *rs = tu_compile(rules);
    fd_diag d = FD_DIAG_INIT;
    *count = fd_lint(rs, &d);
    char *all = fd_diag_join(&d);
    fd_diag_free(&d);
    fd_ruleset_unref(rs);
    return all ? all : strdup("");
}

Test(lint, clean_set_has_no_warnings)
{
    int n;
    char *w = lint("@category A1.4\n制造炸弹\nhow to make a bomb\n@action allow\n路口交通\n", &n);
    cr_assert_eq(n, 0, "%s", w);
    free(w);
}

Test(lint, duplicates_after_normalization)
{
    int n;
    char *w = lint("@category A1.4\n炸弹\n@category A1.6\n炸彈\nＢＯＭＢ\nb o m b\n", &n);
    cr_assert_eq(n, 2, "%s", w);
    cr_assert(strstr(w, "test.rules:4: warning: duplicate of test.rules:2 ('炸弹') after "
                        "normalization"),
              "%s", w);
    cr_assert(strstr(w, "test.rules:6: warning: duplicate of test.rules:5"), "%s", w);
    free(w);
}

Test(lint, shadowed_literal)
{
    int n;
    char *w = lint("@category A1.4\n炸弹\n制造炸弹\n@action flag\n炸弹袭击\n", &n);
    cr_assert_eq(n, 1, "%s", w);
    cr_assert(strstr(w, "test.rules:3: warning: never changes a decision: it contains '炸弹' "
                        "(test.rules:2)"),
              "%s", w);
    free(w);
}

Test(lint, short_literals_and_unbounded)
{
    int n;
    char *w = lint("@category A1.4\n死\nab\n@match word\nab\n@match normalized\n/a+b/\n"
                   "@all x1 && y1\n@within 5\n@all x2 && y2\n",
                   &n);
    cr_assert_eq(n, 4, "%s", w);
    cr_assert(strstr(w, "test.rules:2: warning: literal '死' is so short"), "%s", w);
    cr_assert(strstr(w, "test.rules:3: warning: literal 'ab' is so short that it will match "
                        "inside many words; use @match word"),
              "%s", w);
    cr_assert(strstr(w, "test.rules:7: warning: unbounded width (regex)"), "%s", w);
    cr_assert(strstr(w, "test.rules:8: warning: unbounded width (@all without @within)"), "%s", w);
    free(w);
}

Test(lint, regex_with_characters_normalization_changes)
{
    int n;
    /* 覆 is ambiguous (覆/复) and stays as written: no warning for it */
    char *w = lint("@category A1.4\n/颠覆(國家)?/\n/炸彈|ＢＯＭＢ/\n@match raw\n/炸彈/\n", &n);
    cr_assert_eq(n, 5, "%s", w); /* 國; 彈 Ｂ Ｏ Ｍ */
    cr_assert(strstr(w, "test.rules:2: warning: regex has '國', which normalized text never "
                        "contains (it reads '国')"),
              "%s", w);
    cr_assert(strstr(w, "test.rules:3: warning: regex has '彈'"), "%s", w);
    cr_assert(strstr(w, "test.rules:3: warning: regex has 'Ｂ'"), "%s", w);
    free(w);
}
