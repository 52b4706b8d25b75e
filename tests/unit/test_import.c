/*
 * test_import.c — vendor keyword lists to rule files: encodings, headers,
 * escaping, deduplication after normalization, and a report for every
 * dropped line. The output must load as a rule file.
 */
#include "testutil.h"

#include "import.h"

/* Import LIST with OPTS (NULL: category A1.4, action flag, no --rules, no
 * corpus); the rule file is returned, the report in *REPORT. */
static char *run_opts(const char *list, size_t len, const fd_import_opts *opts, fd_import_stats *st,
                      char **report)
{
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    fd_diag d = FD_DIAG_INIT;
    fd_import_opts o = {"A1.4", FD_FLAG, "vendor.txt", NULL, NULL, 0};
    cr_assert_eq(fd_import_keywords(list, len, opts ? opts : &o, f, &d, st), 0);
    fclose(f);
    *report = fd_diag_join(&d);
    if (!*report)
        *report = strdup("");
    fd_diag_free(&d);
    return out;
}

static char *run(const char *list, size_t len, size_t *kept, size_t *dropped, char **report)
{
    fd_import_stats st;
    char *out = run_opts(list, len, NULL, &st, report);
    *kept = st.imported;
    *dropped = st.dropped;
    return out;
}

Test(import, utf8_with_header_dedup_and_escapes)
{
    const char *list = "\xEF\xBB\xBF关键词\n炸弹\n炸彈\n  ＢＯＭＢ \n bomb\n#tag\n@user\n\n"
                       "/path\n制造炸弹\tA1.4\n\x01"
                       "bad\n\u200b\u200b\n#炸药包\n";
    size_t kept, dropped;
    char *report;
    char *out = run(list, strlen(list), &kept, &dropped, &report);
    cr_assert_eq(kept, 7, "%s\n%s", out, report);
    cr_assert_eq(dropped, 5, "%s", report);
    cr_assert(strstr(report, "vendor.txt:1: dropped: header line"), "%s", report);
    cr_assert(strstr(report, "vendor.txt:3: dropped: duplicate after normalization (of line 2)"),
              "%s", report);
    cr_assert(strstr(report, "vendor.txt:5: dropped: duplicate after normalization (of line 4)"),
              "%s", report);
    cr_assert(strstr(report, "vendor.txt:11: dropped: control character"), "%s", report);
    cr_assert(strstr(report, "vendor.txt:12: dropped: nothing left after normalization"), "%s",
              report);
    /* Han keywords in the normalized view, Latin ones as whole words */
    cr_assert(strstr(out, "@category A1.4\n@action flag\n炸弹\n制造炸弹\n\\#炸药包\n"
                          "@match word\nＢＯＭＢ\n\\#tag\n\\@user\n\\/path\n"),
              "%s", out);
    /* the output loads, and the escaped keywords are literals */
    char *body = strdup(out);
    fd_ruleset *rs = tu_compile(body);
    cr_assert_eq(fd_ruleset_nrules(rs), 7);
    fd_result res;
    fd_result_init(&res);
    cr_assert_eq(tu_scan(rs, "see /path and a BOMB", &res), 0);
    cr_assert_eq(res.decision, FD_FLAG);
    cr_assert_eq(res.n, 2);
    cr_assert_eq(tu_scan(rs, "bombastic paths", &res), 0);
    cr_assert_eq(res.decision, FD_ALLOW, "a Latin keyword matches whole words only");
    fd_result_free(&res);
    fd_ruleset_unref(rs);
    free(body);
    free(out);
    free(report);
}

/* The lines that would do harm as written (SPEC §3.5), each with its
 * reason; what survives goes to the view it is safe in. */
Test(import, harmful_lines_dropped)
{
    const char *list = "b\x7f\n"      /* 1: DEL: would be the rule `b` */
                       "q\x7fq\n"     /* 2 */
                       "x\xc2\x85y\n" /* 3: C1 control (NEL) */
                       "㈠\n"         /* 4: reads 一 */
                       "㈠㈡\n"       /* 5: reads 一二 */
                       "①②③\n"        /* 6: reads 123 */
                       "①肖\n"        /* 7: kept: reads 1肖 */
                       "中\n"         /* 8: one character */
                       "ｂ\n"         /* 9: one character after NFKC */
                       "b.\n"         /* 10: one character after the noise */
                       "8964\n"       /* 11: digits only */
                       "1.1\n"        /* 12: digits and punctuation */
                       "10-20\n"      /* 13: digits and a dash */
                       "is\n"         /* 14: kept, whole word */
                       "System\n"     /* 15 */
                       "用户\n"       /* 16: kept, normalized view */
                       "64式\n"       /* 17: kept */
                       "ИГИЛ\n";      /* 18: Cyrillic: whole word too */
    fd_import_stats st;
    char *report;
    char *out = run_opts(list, strlen(list), NULL, &st, &report);
    cr_assert_eq(st.imported, 6, "%s\n%s", out, report);
    cr_assert_eq(st.dropped, 12, "%s", report);
    cr_assert_eq(st.reason[FD_IMP_CONTROL], 3);
    cr_assert_eq(st.reason[FD_IMP_ENCLOSED], 3);
    cr_assert_eq(st.reason[FD_IMP_SINGLE], 3);
    cr_assert_eq(st.reason[FD_IMP_DIGITS], 3);
    cr_assert_eq(st.word, 3);
    cr_assert(strstr(report, "vendor.txt:1: dropped: control character"), "%s", report);
    cr_assert(strstr(report, "vendor.txt:4: dropped: only enclosed or circled forms ('㈠' reads "
                             "'一')"),
              "%s", report);
    cr_assert(strstr(report, "vendor.txt:9: dropped: a single character after normalization "
                             "('ｂ' reads 'b')"),
              "%s", report);
    cr_assert(strstr(report, "vendor.txt:11: dropped: only digits, punctuation or symbols"), "%s",
              report);
    cr_assert(strstr(out, "\n①肖\n用户\n64式\n@match word\nis\nSystem\nИГИЛ\n"), "%s", out);
    char *body = strdup(out);
    fd_ruleset *rs = tu_compile(body);
    fd_result res;
    fd_result_init(&res);
    const char *allowed[] = {"this ecosystem thing", "一二三", "1 2 3", "abq", "b", "中国"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        cr_assert_eq(tu_scan(rs, allowed[i], &res), 0);
        cr_assert_eq(res.decision, FD_ALLOW, "'%s' matched", allowed[i]);
    }
    const char *flagged[] = {"it is", "the SYSTEM.", "特码1肖", "普通用户"};
    for (size_t i = 0; i < sizeof flagged / sizeof *flagged; i++) {
        cr_assert_eq(tu_scan(rs, flagged[i], &res), 0);
        cr_assert_eq(res.decision, FD_FLAG, "'%s' not matched", flagged[i]);
    }
    fd_result_free(&res);
    fd_ruleset_unref(rs);
    free(body);
    free(out);
    free(report);
}

/* Keywords that are rules already (after normalization, in any view) are
 * dropped with the rule's FILE:LINE. */
Test(import, dedup_against_existing_rules)
{
    fd_rulelist rl;
    fd_rulelist_init(&rl);
    fd_diag d = FD_DIAG_INIT;
    const char *cats = TU_CATEGORIES;
    const char *rules = "@category A1.6\n炸彈\n@match word\nKill\n@match raw\n/x+/\nexact\n";
    cr_assert_eq(fd_rules_parse_categories(&rl, "categories.tsv", cats, strlen(cats), &d), 0);
    cr_assert_eq(fd_rules_parse_file(&rl, "old.rules", rules, strlen(rules), &d), 0);
    fd_import_opts o = {"A1.4", FD_BLOCK, "vendor.txt", &rl, NULL, 0};
    const char *list = "炸弹\nkill\nＫＩＬＬ\nexact\n新词\n";
    fd_import_stats st;
    char *report;
    char *out = run_opts(list, strlen(list), &o, &st, &report);
    cr_assert_eq(st.imported, 1, "%s\n%s", out, report);
    cr_assert_eq(st.reason[FD_IMP_EXISTING], 4, "%s", report);
    cr_assert(strstr(report, "vendor.txt:1: dropped: already a rule in --rules (old.rules:2)"),
              "%s", report);
    cr_assert(strstr(report, "vendor.txt:3: dropped: already a rule in --rules (old.rules:4)"),
              "%s", report);
    cr_assert(strstr(report, "vendor.txt:4: dropped: already a rule in --rules (old.rules:7)"),
              "%s", report);
    cr_assert(strstr(out, "@action block\n新词\n"), "%s", out);
    free(out);
    free(report);
    fd_rulelist_free(&rl);
    fd_diag_free(&d);
}

/* The benign gate: a keyword found in more than benign_max paragraphs of
 * the corpus is written commented out, with its count and an example;
 * the others are rules. Paragraphs end at blank lines and `%` lines. */
Test(import, benign_gate)
{
    fd_benign *b;
    cr_assert_eq(fd_benign_new(&b), 0);
    const char *man = "NAME\n  ls - 列出目录内容\n\n描述\n  显示用户信息。\n  \n选项\n  "
                      "-a 不忽略以 . 开头的项\n";
    const char *fortune = "床前明月光\n%\n用户是上帝\n%\nthis is it\n";
    cr_assert_eq(fd_benign_add(b, "ls.1", man, strlen(man)), 0);
    cr_assert_eq(fd_benign_add(b, "fortunes", fortune, strlen(fortune)), 0);
    cr_assert_eq(fd_benign_add(b, "bad", "\xff\xfe", 2), FD_EUTF8);
    cr_assert_eq(fd_benign_docs(b), 6);
    const char *list = "用户\n明月\n炸弹\nis\nthis\n开头的项\n";
    fd_import_opts o = {"A1.4", FD_BLOCK, "vendor.txt", NULL, b, 0};
    fd_import_stats st;
    char *report;
    char *out = run_opts(list, strlen(list), &o, &st, &report);
    cr_assert_eq(st.benign_docs, 6);
    cr_assert_eq(st.imported, 1, "%s", out);
    cr_assert_eq(st.review, 5, "%s", out);
    cr_assert(strstr(out, "@action block\n炸弹\n"
                          "# review: vendor.txt:1: 2 benign paragraphs, e.g. ls.1:4: 描述 "
                          "显示用户信息。\n#? 用户\n"
                          "# review: vendor.txt:2: 1 benign paragraph, e.g. fortunes:1: "
                          "床前明月光\n#? 明月\n"),
              "%s", out);
    cr_assert(strstr(out, "#? 开头的项\n@match word\n# review: vendor.txt:4: 1 benign paragraph, "
                          "e.g. fortunes:5: this is it\n#? is\n"),
              "%s", out);
    free(out);
    free(report);
    /* a higher threshold keeps what matches few paragraphs */
    o.benign_max = 1;
    out = run_opts(list, strlen(list), &o, &st, &report);
    cr_assert_eq(st.imported, 5, "%s", out);
    cr_assert_eq(st.review, 1, "%s", out);
    cr_assert(strstr(out, "#? 用户\n"), "%s", out);
    /* the review lines are comments: the file loads with the kept rules */
    char *body = strdup(out);
    fd_ruleset *rs = tu_compile(body);
    cr_assert_eq(fd_ruleset_nrules(rs), 5);
    fd_ruleset_unref(rs);
    free(body);
    free(out);
    free(report);
    fd_benign_free(b);
}

Test(import, gb18030)
{
    /* "炸弹\n毒品\n" in GB18030 (GBK range) */
    const char gb[] = "\xd5\xa8\xb5\xaf\n\xb6\xbe\xc6\xb7\n";
    size_t kept, dropped;
    char *report;
    char *out = run(gb, sizeof gb - 1, &kept, &dropped, &report);
    cr_assert_eq(kept, 2);
    cr_assert_eq(dropped, 0);
    cr_assert(strstr(out, "\n炸弹\n毒品\n"), "%s", out);
    free(out);
    free(report);
}

Test(import, utf16_with_bom)
{
    /* "ab\ncd\n" in UTF-16LE with a BOM */
    const char u16[] = "\xff\xfe"
                       "a\0b\0\n\0c\0d\0\n\0";
    size_t kept, dropped;
    char *report;
    char *out = run(u16, sizeof u16 - 1, &kept, &dropped, &report);
    cr_assert_eq(kept, 2, "%s", out);
    cr_assert(strstr(out, "\n@match word\nab\ncd\n"), "%s", out);
    free(out);
    free(report);
}

Test(import, not_text)
{
    FILE *f = fopen("/dev/null", "w");
    fd_diag d = FD_DIAG_INIT;
    fd_import_opts o = {"A1.4", FD_BLOCK, "x", NULL, NULL, 0};
    fd_import_stats st;
    /* invalid as UTF-8 and as GB18030 (0xFF is never a GB18030 lead byte) */
    cr_assert_eq(fd_import_keywords("\xff\xff\xff", 3, &o, f, &d, &st), FD_EUTF8);
    fclose(f);
    fd_diag_free(&d);
}
