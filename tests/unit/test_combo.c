/*
 * test_combo.c — co-occurrence rules (@all, @within): syntax, errors, and
 * what they match in checks; streams are compared with checks in
 * test_stream.c.
 */
#include "testutil.h"

static fd_result res;

static void setup(void)
{
    fd_result_init(&res);
}

static void teardown(void)
{
    fd_result_free(&res);
}

TestSuite(combo, .init = setup, .fini = teardown);

static int count_rule(fd_ruleset *rs, const char *id)
{
    int n = 0;
    for (size_t i = 0; i < res.n; i++)
        n += strcmp(tu_rule_id(rs, &res, i), id) == 0 && !res.matches[i].suppressed;
    return n;
}

Test(combo, parsed_into_combo_and_parts)
{
    char *d = tu_ruledir("@category A1.4\n@action flag\n@id gun-sale\n"
                         "@all 枪支 && 出售 && !仿真 && /vx\\d+/i\n");
    fd_rulelist rl;
    fd_diag dg = FD_DIAG_INIT;
    cr_assert_eq(fd_rules_load_dir(d, &rl, &dg), 0, "%s", dg.n ? dg.lines[0] : "");
    cr_assert_eq(rl.nrules, 5);
    cr_assert_eq(rl.rules[0].kind, FD_RULE_COMBO);
    cr_assert_str_eq(rl.rules[0].id, "gun-sale");
    cr_assert_eq(rl.rules[0].action, FD_FLAG);
    cr_assert_eq(rl.rules[1].kind, FD_RULE_PART);
    cr_assert_str_eq(rl.rules[1].id, "gun-sale#1");
    cr_assert_str_eq(rl.rules[1].pattern, "枪支");
    cr_assert_eq(rl.rules[3].negated, 1);
    cr_assert_str_eq(rl.rules[3].pattern, "仿真");
    cr_assert(rl.rules[4].regex);
    cr_assert_str_eq(rl.rules[4].pattern, "vx\\d+");
    cr_assert_eq(rl.rules[4].rx_flags, FD_RX_CASELESS);
    cr_assert_eq(rl.rules[4].combo, 0);
    fd_rulelist_free(&rl);
    tu_rmdir(d);
}

Test(combo, errors)
{
    char *e = tu_compile_error("@category A1.4\n@all 枪支\n");
    cr_assert_str_eq(e, "test.rules:2: @all needs two parts or more, at least one of them "
                        "without '!'");
    free(e);
    e = tu_compile_error("@category A1.4\n@all !a && !b\n");
    cr_assert(strstr(e, "test.rules:2: @all needs two parts"));
    free(e);
    e = tu_compile_error("@category A1.4\n@all a && && b\n");
    cr_assert_str_eq(e, "test.rules:2: @all: empty part (write PART && PART ...)");
    free(e);
    e = tu_compile_error("@category A1.4\n@all a && /b/q\n");
    cr_assert_str_eq(e, "test.rules:2: unknown regex flag 'q' (i, s or m)");
    free(e);
    e = tu_compile_error("@category A1.4\n@within ten\n");
    cr_assert_str_eq(e, "test.rules:2: @within takes a number of characters (0: anywhere), "
                        "not 'ten'");
    free(e);
    e = tu_compile_error("@category A1.4\n@action allow\n@all a && b\n");
    cr_assert_str_eq(e, "test.rules:3: @all rules can block or flag, not allow");
    free(e);
    e = tu_compile_error("@all a && b\n");
    cr_assert_str_eq(e, "test.rules:1: @all before any @category");
    free(e);
}

Test(combo, all_parts_anywhere)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n@action flag\n@id gun-sale\n@all 枪支 && 出售\n");
    cr_assert_eq(fd_ruleset_combos(rs), 1);
    cr_assert_eq(tu_scan(rs, "出售二手书", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    cr_assert_eq(res.n, 0, "parts are never reported");
    cr_assert_eq(tu_scan(rs, "本店出售各类商品。另有枪支", &res), 0);
    cr_assert_eq(res.decision, FD_FLAG);
    cr_assert_eq(count_rule(rs, "gun-sale"), 1);
    /* the span runs from the first part to the last one */
    cr_assert_eq(res.matches[0].start, strlen("本店"));
    cr_assert_eq(res.matches[0].end, strlen("本店出售各类商品。另有枪支"));
    /* parts are normalized like any literal */
    cr_assert_eq(tu_scan(rs, "槍 支 出-售", &res), 0);
    cr_assert_eq(res.decision, FD_FLAG);
    fd_ruleset_unref(rs);
}

Test(combo, negated_parts)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n@id gun\n@all 枪支 && 出售 && !仿真 && !玩具\n");
    cr_assert_eq(tu_scan(rs, "出售枪支", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    cr_assert_eq(tu_scan(rs, "出售仿真枪支模型", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    cr_assert_eq(tu_scan(rs, "出售枪支，玩具", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    fd_ruleset_unref(rs);
}

Test(combo, within_characters)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n@within 6\n@id near\n@all 枪支 && 出售\n"
                                "@within 0\n@id far\n@all 毒品 && 出售\n");
    /* 枪支 … 出售: 2 + 3 + 2 = 7 characters apart: too far for @within 6 */
    cr_assert_eq(tu_scan(rs, "枪支和其他出售", &res), 0);
    cr_assert_eq(count_rule(rs, "near"), 0);
    cr_assert_eq(tu_scan(rs, "枪支其他出售", &res), 0);
    cr_assert_eq(count_rule(rs, "near"), 1);
    /* a later occurrence can bring the parts close enough */
    cr_assert_eq(tu_scan(rs, "枪支。很多很多很多字。出售枪支", &res), 0);
    cr_assert_eq(count_rule(rs, "near"), 1);
    cr_assert_eq(res.matches[0].start, strlen("枪支。很多很多很多字。"));
    /* @within 0: anywhere */
    cr_assert_eq(tu_scan(rs, "毒品。很多很多很多很多很多很多字。出售", &res), 0);
    cr_assert_eq(count_rule(rs, "far"), 1);
    fd_ruleset_unref(rs);
}

Test(combo, regex_and_word_parts_and_allow)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n@match word\n@id sale\n"
                                "@all kill && /contract\\s+price/\n"
                                "@action allow\n@match normalized\nkill the process\n");
    cr_assert_eq(tu_scan(rs, "Contract  price for a kill.", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    cr_assert_eq(tu_scan(rs, "contract price, skill", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW); /* word boundary on the part */
    fd_ruleset_unref(rs);
}
