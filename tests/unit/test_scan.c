/*
 * test_scan.c — compiling rule sets and scanning texts: literal sets in
 * Chinese and English, regexes, prefilter + PCRE2 confirmation, empty-match
 * rejection, spans, overlaps, allow suppression, decisions, and a
 * 10,000-literal rule set.
 */
#include "testutil.h"

#include "utf8.h"

static fd_result res;

static void setup(void)
{
    fd_result_init(&res);
}

static void teardown(void)
{
    fd_result_free(&res);
}

TestSuite(compile, .init = setup, .fini = teardown);
TestSuite(scan, .init = setup, .fini = teardown);

/* Count the matches that count (block/flag, not suppressed). */
static size_t counted(void)
{
    size_t n = 0;
    for (size_t i = 0; i < res.n; i++)
        n += res.matches[i].action != FD_ALLOW && !res.matches[i].suppressed;
    return n;
}

static void expect_span(size_t i, unsigned start, unsigned end)
{
    cr_assert_lt(i, res.n, "only %zu matches", res.n);
    cr_assert_eq(res.matches[i].start, start, "match %zu start %u, want %u", i,
                 res.matches[i].start, start);
    cr_assert_eq(res.matches[i].end, end, "match %zu end %u, want %u", i, res.matches[i].end, end);
}

Test(compile, empty_ruleset_allows)
{
    fd_ruleset *rs = tu_compile(NULL);
    cr_assert_eq(fd_ruleset_nrules(rs), 0);
    cr_assert_eq(tu_scan(rs, "anything at all", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    cr_assert_eq(res.n, 0);
    fd_ruleset_unref(rs);
}

Test(compile, counts_per_view)
{
    fd_ruleset *rs = tu_compile("@category A1.4\na\nb\n@match word\nc\n@match raw\n/d+/\n");
    cr_assert_eq(fd_ruleset_nrules(rs), 4);
    cr_assert_eq(fd_ruleset_view_rules(rs, FD_VIEW_NORMALIZED), 2);
    cr_assert_eq(fd_ruleset_view_rules(rs, FD_VIEW_WORD), 1);
    cr_assert_eq(fd_ruleset_view_rules(rs, FD_VIEW_RAW), 1);
    cr_assert_gt(fd_ruleset_db_bytes(rs), 0);
    cr_assert_eq(strlen(fd_ruleset_version(rs)), 64);
    cr_assert(fd_hs_version() && *fd_hs_version());
    fd_ruleset_unref(rs);
}

Test(compile, empty_match_rejected)
{
    char *e = tu_compile_error("@category A1.4\nfine\n/a*/\n");
    cr_assert_str_eq(e, "test.rules:3: pattern matches the empty string");
    free(e);
    e = tu_compile_error("@category A1.4\n/(x|)/\n");
    cr_assert_str_eq(e, "test.rules:2: pattern matches the empty string");
    free(e);
    /* prefiltered (look-ahead only) */
    e = tu_compile_error("@category A1.4\n/(?=abc)/\n");
    cr_assert_str_eq(e, "test.rules:2: pattern matches the empty string");
    free(e);
}

Test(compile, bad_regex_reported_with_line)
{
    char *e = tu_compile_error("@category A1.4\nok\n\n/a(b/\n/[z-a]/\n");
    cr_assert(strstr(e, "test.rules:4: bad regex: "), "%s", e);
    cr_assert(strstr(e, "test.rules:5: bad regex: "), "%s", e);
    free(e);
}

Test(compile, refcount)
{
    fd_ruleset *rs = tu_compile("@category A1.4\nbomb\n");
    cr_assert_eq(fd_ruleset_ref(rs), rs);
    fd_ruleset_unref(rs);
    cr_assert_eq(tu_scan(rs, "a bomb", &res), 0); /* still alive */
    cr_assert_eq(res.decision, FD_BLOCK);
    fd_ruleset_unref(rs);
}

Test(compile, rulelist_ownership)
{
    char *d = tu_ruledir("@category A1.4\nbomb\n/bad(/\n");
    fd_rulelist rl;
    fd_diag dg = FD_DIAG_INIT;
    cr_assert_eq(fd_rules_load_dir(d, &rl, &dg), 0);
    fd_ruleset *rs = NULL;
    cr_assert_eq(fd_ruleset_compile(&rl, &rs, &dg), FD_ERULES);
    /* on failure the list is still the caller's, intact */
    cr_assert_eq(rl.nrules, 2);
    cr_assert_str_eq(rl.rules[0].pattern, "bomb");
    fd_rulelist_free(&rl);
    fd_diag_free(&dg);
    tu_rmdir(d);
}

Test(scan, chinese_and_english_literals)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n制造炸弹\nhow to make a bomb\n"
                                "@action flag\n恐怖袭击\n");
    cr_assert_eq(tu_scan(rs, "这是关于制造炸弹的文章", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    cr_assert_eq(res.n, 1);
    expect_span(0, 12, 24); /* 这是关于 = 12 bytes, 制造炸弹 = 12 bytes */
    cr_assert_eq(tu_scan(rs, "Here is How To Make A Bomb.", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    expect_span(0, 8, 26);
    cr_assert_eq(tu_scan(rs, "新闻：恐怖袭击", &res), 0);
    cr_assert_eq(res.decision, FD_FLAG);
    cr_assert_eq(res.matches[0].action, FD_FLAG);
    cr_assert_eq(tu_scan(rs, "今天天气很好", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    cr_assert_eq(res.n, 0);
    fd_ruleset_unref(rs);
}

Test(scan, several_and_overlapping_matches_sorted)
{
    fd_ruleset *rs = tu_compile("@category A1.4\nabc\nbcd\nab\n@action flag\nxyz\n");
    cr_assert_eq(tu_scan(rs, "xyz abcd abc", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    cr_assert_eq(res.n, 6);
    expect_span(0, 0, 3);  /* xyz */
    expect_span(1, 4, 6);  /* ab */
    expect_span(2, 4, 7);  /* abc */
    expect_span(3, 5, 8);  /* bcd */
    expect_span(4, 9, 11); /* ab */
    expect_span(5, 9, 12); /* abc */
    fd_ruleset_unref(rs);
}

Test(scan, repeated_literal_each_occurrence)
{
    fd_ruleset *rs = tu_compile("@category A1.4\naa\n");
    cr_assert_eq(tu_scan(rs, "aaaa", &res), 0);
    cr_assert_eq(res.n, 3); /* overlapping occurrences at 0, 1, 2 */
    expect_span(2, 2, 4);
    fd_ruleset_unref(rs);
}

Test(scan, regex_leftmost_longest_span)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n/build(ing)? an? (pipe|nail) bomb/i\n"
                                "/ab+/\n");
    cr_assert_eq(tu_scan(rs, "Guide: Building a PIPE bomb today", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    cr_assert_eq(res.n, 1);
    expect_span(0, 7, 27);
    /* one start reported once, grown to its longest end */
    cr_assert_eq(tu_scan(rs, "xabbbx", &res), 0);
    cr_assert_eq(res.n, 1);
    expect_span(0, 1, 5);
    fd_ruleset_unref(rs);
}

Test(scan, prefilter_backreference_confirmed)
{
    /* A back-reference: Hyperscan can only prefilter; PCRE2 confirms. */
    fd_ruleset *rs = tu_compile("@category A1.4\n/(\\w{3})-\\1/\n");
    cr_assert_eq(tu_scan(rs, "code abc-abc here", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    cr_assert_eq(res.n, 1);
    expect_span(0, 5, 12);
    /* the prefilter fires on abc-abd, PCRE2 rejects it */
    cr_assert_eq(tu_scan(rs, "code abc-abd here", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    cr_assert_eq(res.n, 0);
    /* several confirmed matches */
    cr_assert_eq(tu_scan(rs, "xyz-xyz and qqq-qqq", &res), 0);
    cr_assert_eq(res.n, 2);
    expect_span(1, 12, 19);
    fd_ruleset_unref(rs);
}

Test(scan, lookbehind_raw_pii)
{
    fd_ruleset *rs = tu_compile("@category A4.6\n@action flag\n@match raw\n"
                                "/(?<![0-9])1[3-9][0-9]{9}(?![0-9])/\n");
    cr_assert_eq(tu_scan(rs, "电话13812345678，谢谢", &res), 0);
    cr_assert_eq(res.decision, FD_FLAG);
    cr_assert_eq(res.n, 1);
    expect_span(0, 6, 17);
    cr_assert_eq(tu_scan(rs, "订单号 9138123456789 已发货", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    fd_ruleset_unref(rs);
}

Test(scan, raw_view_is_exact)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n@match raw\nSecretToken\n");
    cr_assert_eq(tu_scan(rs, "secrettoken", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    cr_assert_eq(tu_scan(rs, "my SecretToken!", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    expect_span(0, 3, 14);
    fd_ruleset_unref(rs);
}

Test(scan, word_view_boundaries)
{
    fd_ruleset *rs = tu_compile("@category A1.6\n@match word\nass\nkill\n");
    cr_assert_eq(tu_scan(rs, "first class assessment, skill", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW, "matched %zu", res.n);
    cr_assert_eq(tu_scan(rs, "you ass.", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    expect_span(0, 4, 7);
    cr_assert_eq(tu_scan(rs, "KILL", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    /* letters of other scripts are word characters too */
    cr_assert_eq(tu_scan(rs, "killé", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    /* Chinese has no spaces: a neighbouring Han character is a boundary */
    cr_assert_eq(tu_scan(rs, "我kill你", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    expect_span(0, 3, 7);
    fd_ruleset_unref(rs);
}

Test(scan, allow_suppresses_inside_only)
{
    fd_ruleset *rs = tu_compile("@category A1.6\n口交\n@action allow\n路口交通\n");
    cr_assert_eq(tu_scan(rs, "前方路口交通拥堵", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    cr_assert_eq(res.n, 2);
    cr_assert_eq(counted(), 0);
    /* sorted by start: the allow match (路口交通 at 6) comes first */
    cr_assert_eq(res.matches[0].action, FD_ALLOW);
    cr_assert_eq(res.matches[1].suppressed, 1);
    expect_span(1, 9, 15);
    /* the same keyword elsewhere in the text still counts */
    cr_assert_eq(tu_scan(rs, "路口交通，还有口交", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    cr_assert_eq(counted(), 1);
    fd_ruleset_unref(rs);
}

Test(scan, allow_partial_overlap_does_not_suppress)
{
    fd_ruleset *rs = tu_compile("@category A1.4\nbcd\n@action allow\nabc\n");
    cr_assert_eq(tu_scan(rs, "abcd", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    /* an allow with the same start that ends later contains the match */
    fd_ruleset_unref(rs);
    rs = tu_compile("@category A1.4\nab\n@action allow\nabc\n");
    cr_assert_eq(tu_scan(rs, "abc", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    /* exactly the same span is inside too */
    fd_ruleset_unref(rs);
    rs = tu_compile("@category A1.4\nabc\n@action allow\n@id same\nabc\n");
    cr_assert_eq(tu_scan(rs, "abc", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    fd_ruleset_unref(rs);
}

Test(scan, decision_is_worst_unsuppressed)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n@action flag\nflagme\n@action block\nblockme\n"
                                "@action allow\nnot blockme\n");
    cr_assert_eq(tu_scan(rs, "flagme", &res), 0);
    cr_assert_eq(res.decision, FD_FLAG);
    cr_assert_eq(tu_scan(rs, "flagme blockme", &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    cr_assert_eq(tu_scan(rs, "flagme not blockme", &res), 0);
    cr_assert_eq(res.decision, FD_FLAG);
    fd_ruleset_unref(rs);
}

Test(scan, spans_on_character_boundaries)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n/炸./\n弹\n@match raw\n/[^a-z]{2}/\n");
    const char *t = "a炸弹b€c😀d";
    cr_assert_eq(tu_scan(rs, t, &res), 0);
    cr_assert_gt(res.n, 2);
    size_t len = strlen(t);
    for (size_t i = 0; i < res.n; i++) {
        fd_match *m = &res.matches[i];
        cr_assert_lt(m->start, m->end);
        cr_assert_leq(m->end, len);
        cr_assert_neq((unsigned char)t[m->start] & 0xC0, 0x80, "start %u mid-char", m->start);
        cr_assert(m->end == len || ((unsigned char)t[m->end] & 0xC0) != 0x80, "end %u", m->end);
    }
    fd_ruleset_unref(rs);
}

Test(scan, invalid_utf8_rejected)
{
    fd_ruleset *rs = tu_compile("@category A1.4\nbomb\n");
    const char *bad[] = {"bomb\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ab\xe7\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(tu_scan(rs, bad[i], &res), FD_EUTF8, "case %zu", i);
        cr_assert_eq(res.n, 0);
    }
    fd_ruleset_unref(rs);
}

Test(scan, utf8_validator)
{
    cr_assert(fd_utf8_valid("", 0));
    cr_assert(fd_utf8_valid("plain ascii text, long enough for the fast path", 47));
    cr_assert(fd_utf8_valid("中文😀é", strlen("中文😀é")));
    cr_assert_eq(fd_utf8_check("abcdefgh\x80", 9), 8);
    cr_assert_eq(fd_utf8_check("ab\xe0\x80\x80", 5), 2); /* overlong */
    cr_assert_eq(fd_utf8_check("ab\xf0\x9f\x98", 5), 2); /* truncated */
}

Test(scan, scratch_reused_across_rulesets)
{
    fd_ruleset *a = tu_compile("@category A1.4\nalpha\n");
    fd_ruleset *b = tu_compile("@category A1.4\none\ntwo\nthree\n/f(o|u)ur/\n");
    fd_scratch *s = NULL;
    cr_assert_eq(fd_scratch_new(a, &s), 0);
    cr_assert_eq(fd_scan(b, s, "two", 3, &res), FD_ESTATE); /* not fitted yet */
    cr_assert_eq(fd_scratch_update(s, b), 0);
    cr_assert_eq(fd_scan(b, s, "four two", 8, &res), 0);
    cr_assert_eq(res.n, 2);
    cr_assert_eq(fd_scan(a, s, "alpha", 5, &res), 0);
    cr_assert_eq(res.decision, FD_BLOCK);
    fd_scratch_free(s);
    fd_ruleset_unref(a);
    fd_ruleset_unref(b);
}

/* A reproducible pseudo-random generator for the large set. */
static uint64_t rng = 88172645463325252ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

Test(scan, ten_thousand_literals, .timeout = 300)
{
    /* 10,000 keywords: 2–6 Han characters from a block of common ones,
     * and English phrases; every one must be found, exactly where it is. */
    enum { N = 10000 };
    size_t cap = N * 32 + 64;
    char *body = malloc(cap);
    char(*kw)[32] = malloc(N * sizeof *kw);
    size_t pos = (size_t)sprintf(body, "@category A1.4\n");
    for (int i = 0; i < N; i++) {
        char *k = kw[i];
        if (i % 2) {
            int n = 2 + (int)(next_rand() % 5);
            size_t o = 0;
            for (int j = 0; j < n; j++) {
                uint32_t cp = 0x4E00 + next_rand() % 0x5000;
                k[o++] = (char)(0xE0 | (cp >> 12));
                k[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                k[o++] = (char)(0x80 | (cp & 0x3F));
            }
            k[o] = '\0';
        } else {
            sprintf(k, "zq%05d phrase %c%c", i, 'a' + next_rand() % 26, 'a' + next_rand() % 26);
        }
        pos += (size_t)sprintf(body + pos, "%s\n", k);
    }
    fd_ruleset *rs = tu_compile(body);
    cr_assert_eq(fd_ruleset_nrules(rs), N);
    fd_scratch *s = NULL;
    cr_assert_eq(fd_scratch_new(rs, &s), 0);
    for (int i = 0; i < N; i += 97) {
        char text[128];
        int pre = sprintf(text, "前文 ");
        int l = sprintf(text + pre, "%s", kw[i]);
        sprintf(text + pre + l, " 后文");
        cr_assert_eq(fd_scan(rs, s, text, strlen(text), &res), 0);
        cr_assert_eq(res.decision, FD_BLOCK, "keyword %d not found", i);
        int found = 0;
        for (size_t m = 0; m < res.n; m++)
            if (strcmp(fd_ruleset_rule(rs, res.matches[m].rule)->pattern, kw[i]) == 0 &&
                res.matches[m].start == (unsigned)pre && res.matches[m].end == (unsigned)(pre + l))
                found = 1;
        cr_assert(found, "keyword %d: wrong span", i);
    }
    cr_assert_eq(fd_scan(rs, s, "nothing here", 12, &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    fd_scratch_free(s);
    fd_ruleset_unref(rs);
    free(body);
    free(kw);
}

Test(scan, match_cap_fails_closed)
{
    /* More matches than FD_MAX_MATCHES: the rest are counted, and the
     * decision still reflects them. */
    fd_ruleset *rs = tu_compile("@category A1.4\n@action allow\nx\n@action flag\ny\n");
    size_t n = FD_MAX_MATCHES + 10;
    char *t = malloc(n + 2);
    memset(t, 'x', n);
    t[n] = 'y';
    t[n + 1] = '\0';
    fd_scratch *s = NULL;
    cr_assert_eq(fd_scratch_new(rs, &s), 0);
    cr_assert_eq(fd_scan(rs, s, t, n + 1, &res), 0);
    cr_assert_eq(res.n, FD_MAX_MATCHES);
    cr_assert_eq(res.dropped, 11);
    cr_assert_eq(res.decision, FD_FLAG);
    fd_scratch_free(s);
    fd_ruleset_unref(rs);
    free(t);
}
