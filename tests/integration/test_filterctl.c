/*
 * test_filterctl.c — filterctl against the real daemon: output and exit
 * statuses (0 allow, 1 flag, 2 block, 64 usage, 69 unreachable, 70 error).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

TestSuite(filterctl, .init = fdt_setup, .fini = fdt_teardown, .timeout = 60);

Test(filterctl, exit_codes)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    char *out;

    const char *allow[] = {"--socket", fdt_d.sock, "check", "hello", NULL};
    cr_assert_eq(fdt_filterctl(allow, NULL, &out), 0);
    cr_assert(strncmp(out, "allow", 5) == 0, "%s", out);
    free(out);

    /* --socket after the subcommand */
    const char *flag[] = {"check", "the casino", "--socket", fdt_d.sock, NULL};
    cr_assert_eq(fdt_filterctl(flag, NULL, &out), 1);
    cr_assert(strstr(out, "casino") && strstr(out, "A1.8"), "%s", out);
    free(out);

    /* text from stdin; the match line names rule, category, span, text */
    const char *block[] = {"--socket", fdt_d.sock, "check", "-", NULL};
    cr_assert_eq(fdt_filterctl(block, "如何制造炸弹", &out), 2);
    cr_assert(strstr(out, "block") && strstr(out, "A1.4") && strstr(out, "zhadan") &&
                  strstr(out, "6-18") && strstr(out, "\"制造炸弹\"") &&
                  strstr(out, "Promoting terrorism"),
              "%s", out);
    free(out);

    char sockopt[4200];
    snprintf(sockopt, sizeof(sockopt), "--socket=%s", fdt_d.sock);
    const char *js[] = {sockopt, "check", "--json", "bomb", NULL};
    cr_assert_eq(fdt_filterctl(js, NULL, &out), 2);
    cJSON *r = fdt_json(out);
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cJSON_Delete(r);
    free(out);

    const char *usage1[] = {"--socket", fdt_d.sock, "check", "a", "b", NULL};
    cr_assert_eq(fdt_filterctl(usage1, NULL, NULL), 64);
    const char *usage2[] = {"frobnicate", NULL};
    cr_assert_eq(fdt_filterctl(usage2, NULL, NULL), 64);
    const char *usage3[] = {"--bogus", "ping", NULL};
    cr_assert_eq(fdt_filterctl(usage3, NULL, NULL), 64);
    const char *usage4[] = {NULL};
    cr_assert_eq(fdt_filterctl(usage4, NULL, NULL), 64);

    char nosock[4200];
    snprintf(nosock, sizeof(nosock), "%s/nothing.sock", fdt_d.dir);
    const char *unreach[] = {"--socket", nosock, "check", "hello", NULL};
    cr_assert_eq(fdt_filterctl(unreach, NULL, NULL), 69);
    const char *unreach2[] = {"ping", "--socket", nosock, NULL};
    cr_assert_eq(fdt_filterctl(unreach2, NULL, NULL), 69);

    /* the daemon answers an error: 70 */
    const char *badutf[] = {"--socket", fdt_d.sock, "check", "-", NULL};
    cr_assert_eq(fdt_filterctl(badutf, "bad \xff byte", NULL), 70);
}

Test(filterctl, ping_version_stats_reload)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    char *out;
    const char *ping[] = {"ping", "--socket", fdt_d.sock, NULL};
    cr_assert_eq(fdt_filterctl(ping, NULL, &out), 0);
    cr_assert_str_eq(out, "ok\n");
    free(out);

    const char *ver[] = {"version", "--socket", fdt_d.sock, NULL};
    cr_assert_eq(fdt_filterctl(ver, NULL, &out), 0);
    cr_assert(strstr(out, "filterd ") && strstr(out, "rules "), "%s", out);
    free(out);

    const char *stats[] = {"stats", "--socket", fdt_d.sock, NULL};
    cr_assert_eq(fdt_filterctl(stats, NULL, &out), 0);
    cr_assert(strstr(out, "requests.check: ") && strstr(out, "latency_us.p99: "), "%s", out);
    free(out);

    const char *statsj[] = {"stats", "--json", "--socket", fdt_d.sock, NULL};
    cr_assert_eq(fdt_filterctl(statsj, NULL, &out), 0);
    cJSON_Delete(fdt_json(out));
    free(out);

    const char *reload[] = {"reload", "--socket", fdt_d.sock, NULL};
    cr_assert_eq(fdt_filterctl(reload, NULL, &out), 0);
    cr_assert(strstr(out, "reloaded"), "%s", out);
    free(out);
    fdt_write_file(fdt_d.rules, "broken.rules", "@category NOPE\nx\n");
    cr_assert_eq(fdt_filterctl(reload, NULL, NULL), 1);
}

/* The moderators' tools, no daemon: import a vendor list into a rule file
 * that then checks, lints and tests clean; a broken file gives FILE:LINE. */
Test(filterctl, rules_import_check_lint_test)
{
    char list[4200], *out = NULL, *err = NULL;
    snprintf(list, sizeof list, "%s/vendor.txt", fdt_d.dir);
    FILE *f = fopen(list, "w");
    fputs("\xEF\xBB\xBF关键词\n赌博网站\n賭博網站\n  代开发票 \n#hashtag\n", f);
    fclose(f);
    const char *imp[] = {"rules", "import",  "--category", "A1.4", "--action",
                         "flag",  "--rules", fdt_d.rules,  list,   NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, imp, NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "@category A1.4\n@action flag\n赌博网站\n代开发票\n@match word\n"
                          "\\#hashtag\n"),
              "%s", out);
    cr_assert(strstr(err, "vendor.txt:1: dropped: header line"), "%s", err);
    cr_assert(strstr(err, "vendor.txt:3: dropped: duplicate after normalization (of line 2)"), "%s",
              err);
    cr_assert(strstr(err, "\nimported 3, review 0, dropped 2\n"), "%s", err);
    fdt_write_file(fdt_d.rules, "imported.rules", out);
    fdt_write_file(fdt_d.rules, "imported.tests", "flag:A1.4\t这里有赌 博网站\nallow\t天气很好\n");
    free(out);
    free(err);

    const char *chk[] = {"rules", "check", fdt_d.rules, NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, chk, NULL, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    const char *tst[] = {"rules", "test", fdt_d.rules, NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, tst, NULL, &out, &err), 0, "%s%s", out, err);
    cr_assert(strstr(out, "2 passed, 0 failed"), "%s", out);
    free(out);
    free(err);

    /* lint: the same keyword twice, after normalization */
    fdt_write_file(fdt_d.rules, "dup.rules", "@category A1.4\n@action flag\n賭博網站\n");
    const char *lnt[] = {"rules", "lint", fdt_d.rules, NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, lnt, NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "imported.rules:7: warning: duplicate of dup.rules:3"), "%s%s", out, err);
    free(out);
    free(err);

    /* a broken file: FILE:LINE and exit 1 */
    fdt_write_file(fdt_d.rules, "dup.rules", "@category A1.4\n@action maybe\n");
    cr_assert_eq(fdt_run(FILTERCTL_BIN, chk, NULL, &out, &err), 1);
    cr_assert(strstr(err, "dup.rules:2: unknown action 'maybe'"), "%s", err);
    free(out);
    free(err);
}

/* rules import from stdin, against an existing rule directory, with a
 * benign corpus given as a directory (a file in it that is not UTF-8 text
 * is skipped) and as a file; the report counts each reason and ends with
 * the summary line. `filterctl --help` lists the command. */
Test(filterctl, rules_import_stdin_rules_benign)
{
    char *out = NULL, *err = NULL;
    fdt_write_file(fdt_d.rules, "old.rules", "@category A1.4\n炸彈\n");
    char corpus[4200], fortunes[4200];
    snprintf(corpus, sizeof corpus, "%s/benign", fdt_d.dir);
    snprintf(fortunes, sizeof fortunes, "%s/fortunes", fdt_d.dir);
    mkdir(corpus, 0755);
    fdt_write_file(corpus, "ls.1.txt", "名称\n ls - 列出目录内容\n\n描述\n 显示用户信息\n");
    fdt_write_file(corpus, "ls.1.gz", "\x1f\x8b\x08\xff\xfe");
    fdt_write_file(fdt_d.dir, "fortunes", "天下用户\n%\n海内存知己\n");
    const char *imp[] = {"rules",    "import", "--category", "A1.4",   "--rules", fdt_d.rules,
                         "--benign", corpus,   "--benign",   fortunes, "-",       NULL};
    const char *list = "炸弹\n用户\n知己\n目录\n赌博网站\nb\x7f\n㈠\n64\n";
    cr_assert_eq(fdt_run(FILTERCTL_BIN, imp, list, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "@action block\n赌博网站\n# review: stdin:2: 2 benign paragraphs"), "%s",
              out);
    cr_assert(strstr(out, "\n#? 用户\n"), "%s", out);
    cr_assert(strstr(out, "\n#? 知己\n"), "%s", out);
    cr_assert(strstr(out, "\n#? 目录\n"), "%s", out);
    cr_assert(strstr(err, "stdin:1: dropped: already a rule in --rules (old.rules:2)"), "%s", err);
    cr_assert(strstr(err, "stdin:6: dropped: control character"), "%s", err);
    cr_assert(strstr(err, "benign corpus: 2 files, 4 paragraphs, 1 files skipped"), "%s", err);
    cr_assert(strstr(err, "dropped 1: only enclosed or circled forms\n"), "%s", err);
    cr_assert(strstr(err, "dropped 1: already a rule in --rules\n"), "%s", err);
    const char *tail = "imported 1, review 3, dropped 4\n";
    cr_assert(strlen(err) >= strlen(tail) && !strcmp(err + strlen(err) - strlen(tail), tail), "%s",
              err);
    free(out);
    free(err);

    /* a --benign file that is not UTF-8 is an error, not silently ignored */
    fdt_write_file(fdt_d.dir, "fortunes", "\xff\xfe\xfd");
    cr_assert_eq(fdt_run(FILTERCTL_BIN, imp, list, &out, &err), 1);
    cr_assert(strstr(err, "not UTF-8 text"), "%s", err);
    free(out);
    free(err);
    const char *bad[] = {"rules", "import", "--category", "A1.4", "--benign-max", "x", "-", NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, bad, "", &out, &err), 64);
    free(out);
    free(err);

    const char *help[] = {"--help", NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, help, NULL, &out, &err), 0);
    cr_assert(strstr(out, "rules import --category ID"), "%s", out);
    free(out);
    free(err);
}

/* rules lint: the per-kind summary comes first; --strict exits 1 when a
 * warning of a harmful kind exists (a single character, digits only, a
 * literal matching --benign text), 0 when only harmless kinds remain. */
Test(filterctl, rules_lint_strict)
{
    char *out = NULL, *err = NULL;
    fdt_write_file(fdt_d.rules, "harm.rules", "@category A1.4\n8964\n");
    const char *lnt[] = {"rules", "lint", fdt_d.rules, NULL};
    const char *strict[] = {"rules", "lint", "--strict", fdt_d.rules, NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, lnt, NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, ": 1 warning, 1 of a harmful kind\n       1  digits and punctuation "
                          "only (harmful)\nharm.rules:2: warning: literal '8964' (reads '8964')"),
              "%s", out);
    free(out);
    free(err);
    cr_assert_eq(fdt_run(FILTERCTL_BIN, strict, NULL, &out, &err), 1, "%s", out);
    cr_assert(strstr(err, "1 warning of a harmful kind (--strict)"), "%s", err);
    free(out);
    free(err);

    /* harmless kinds only: --strict passes */
    fdt_write_file(fdt_d.rules, "harm.rules", "@category A1.4\n制造炸药\n製造炸藥\n");
    cr_assert_eq(fdt_run(FILTERCTL_BIN, strict, NULL, &out, &err), 0, "%s%s", out, err);
    cr_assert(strstr(out, "1 warning, 0 of a harmful kind"), "%s", out);
    free(out);
    free(err);

    /* a literal found in benign text is harmful */
    char benign[4200];
    snprintf(benign, sizeof benign, "%s/benign.txt", fdt_d.dir);
    fdt_write_file(fdt_d.dir, "benign.txt", "请先制造炸药的替代品\n");
    const char *strict_b[] = {"rules", "lint", "--strict", "--benign", benign, fdt_d.rules, NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, strict_b, NULL, &out, &err), 1, "%s%s", out, err);
    cr_assert(strstr(out, "matches benign text (harmful)"), "%s", out);
    cr_assert(strstr(out, "harm.rules:2: warning: '制造炸药' (reads '制造炸药') matches 1 benign "
                          "paragraph"),
              "%s", out);
    free(out);
    free(err);
}
