/*
 * test_import.c — vendor keyword lists to rule files: encodings, headers,
 * escaping, deduplication after normalization, and a report for every
 * dropped line. The output must load as a rule file.
 */
#include "testutil.h"

#include "import.h"

static char *run(const char *list, size_t len, size_t *kept, size_t *dropped, char **report)
{
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    fd_diag d = FD_DIAG_INIT;
    fd_import_opts o = {"A1.4", FD_FLAG, "vendor.txt"};
    cr_assert_eq(fd_import_keywords(list, len, &o, f, &d, kept, dropped), 0);
    fclose(f);
    *report = fd_diag_join(&d);
    if (!*report)
        *report = strdup("");
    fd_diag_free(&d);
    return out;
}

Test(import, utf8_with_header_dedup_and_escapes)
{
    const char *list = "\xEF\xBB\xBF关键词\n炸弹\n炸彈\n  ＢＯＭＢ \n bomb\n#tag\n@user\n\n"
                       "/path\n制造炸弹\tA1.4\n\x01"
                       "bad\n\u200b\u200b\n";
    size_t kept, dropped;
    char *report;
    char *out = run(list, strlen(list), &kept, &dropped, &report);
    cr_assert_eq(kept, 6, "%s\n%s", out, report);
    cr_assert_eq(dropped, 5, "%s", report);
    cr_assert(strstr(report, "vendor.txt:1: dropped: header line"), "%s", report);
    cr_assert(strstr(report, "vendor.txt:3: dropped: duplicate of line 2 after normalization"),
              "%s", report);
    cr_assert(strstr(report, "vendor.txt:5: dropped: duplicate of line 4 after normalization"),
              "%s", report);
    cr_assert(strstr(report, "vendor.txt:11: dropped: control character"), "%s", report);
    cr_assert(strstr(report, "vendor.txt:12: dropped: nothing left after normalization"), "%s",
              report);
    cr_assert(strstr(out, "@category A1.4\n@action flag\n炸弹\nＢＯＭＢ\n\\#tag\n\\@user\n"
                          "\\/path\n制造炸弹\n"),
              "%s", out);
    /* the output loads, and the escaped keywords are literals */
    char *body = strdup(out);
    fd_ruleset *rs = tu_compile(body);
    cr_assert_eq(fd_ruleset_nrules(rs), 6);
    fd_result res;
    fd_result_init(&res);
    cr_assert_eq(tu_scan(rs, "see #tag and /path", &res), 0);
    cr_assert_eq(res.decision, FD_FLAG);
    cr_assert_eq(res.n, 2);
    fd_result_free(&res);
    fd_ruleset_unref(rs);
    free(body);
    free(out);
    free(report);
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
    /* "ab\nc\n" in UTF-16LE with a BOM */
    const char u16[] = "\xff\xfe"
                       "a\0b\0\n\0c\0\n\0";
    size_t kept, dropped;
    char *report;
    char *out = run(u16, sizeof u16 - 1, &kept, &dropped, &report);
    cr_assert_eq(kept, 2, "%s", out);
    cr_assert(strstr(out, "\nab\nc\n"), "%s", out);
    free(out);
    free(report);
}

Test(import, not_text)
{
    FILE *f = fopen("/dev/null", "w");
    fd_diag d = FD_DIAG_INIT;
    fd_import_opts o = {"A1.4", FD_BLOCK, "x"};
    size_t k, dr;
    /* invalid as UTF-8 and as GB18030 (0xFF is never a GB18030 lead byte) */
    cr_assert_eq(fd_import_keywords("\xff\xff\xff", 3, &o, f, &d, &k, &dr), FD_EUTF8);
    fclose(f);
    fd_diag_free(&d);
}
