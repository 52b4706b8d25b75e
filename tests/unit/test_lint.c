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
                        "normalization: both read '炸弹'"),
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
                        "(test.rules:2, reads '炸弹')"),
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
    cr_assert(strstr(w, "test.rules:2: warning: literal '死' (reads '死') is a single character"),
              "%s", w);
    cr_assert(strstr(w, "test.rules:3: warning: literal 'ab' (reads 'ab') is so short that it "
                        "will match inside many words; use @match word"),
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

/* The harmful kinds (what `lint --strict` fails on): single characters
 * and digit-only literals, with what they normalize to; rules that match
 * a benign corpus, with the count and an example. Counted per kind. */
Test(lint, harmful_kinds_counted_with_normalized_forms)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n㈠\nＢ\n8964\n1.1\n用户\n炸弹袭击\n"
                                "@match word\nsystem\n@action allow\n一\n");
    fd_benign *b;
    cr_assert_eq(fd_benign_new(&b), 0);
    const char *text = "显示用户信息\n\n普通用户的 system 命令\n\n无关\n";
    cr_assert_eq(fd_benign_add(b, "man.txt", text, strlen(text)), 0);
    fd_diag d = FD_DIAG_INIT;
    size_t count[FD_LINT_NKINDS];
    int n = fd_lint_ex(rs, b, &d, count);
    char *w = fd_diag_join(&d);
    cr_assert_eq(n, 6, "%s", w);
    cr_assert_eq(count[FD_LINT_SINGLE], 2, "%s", w);
    cr_assert_eq(count[FD_LINT_DIGITS], 2, "%s", w);
    cr_assert_eq(count[FD_LINT_BENIGN], 2, "%s", w);
    cr_assert(fd_lint_harmful(FD_LINT_BENIGN) && !fd_lint_harmful(FD_LINT_DUPLICATE));
    cr_assert(strstr(w, "test.rules:2: warning: literal '㈠' (reads '一') is a single character"),
              "%s", w);
    cr_assert(strstr(w, "test.rules:3: warning: literal 'Ｂ' (reads 'b') is a single character"),
              "%s", w);
    cr_assert(strstr(w, "test.rules:5: warning: literal '1.1' (reads '11') is only digits"), "%s",
              w);
    cr_assert(strstr(w, "test.rules:6: warning: '用户' (reads '用户') matches 2 benign paragraphs, "
                        "e.g. '显示用户信息'"),
              "%s", w);
    cr_assert(strstr(w, "test.rules:9: warning: 'system' (reads 'system') matches 1 benign "
                        "paragraph, e.g. '普通用户的 system 命令'"),
              "%s", w);
    free(w);
    fd_diag_free(&d);
    /* without a corpus, no benign warnings */
    n = fd_lint_ex(rs, NULL, &d, count);
    cr_assert_eq(n, 4);
    cr_assert_eq(count[FD_LINT_BENIGN], 0);
    fd_diag_free(&d);
    fd_benign_free(b);
    fd_ruleset_unref(rs);
}
