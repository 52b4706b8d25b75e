/*
 * test_ruletest.c — the "*.tests" runner (SPEC §3.4, ruletest.h): line
 * parsing, escapes, each EXPECT form, malformed lines reported at their
 * exact FILE:LINE, failing cases reported at the right line with their
 * matches, and directory discovery (recursive, lexical, hidden skipped).
 */
#include "testutil.h"

#include "ruletest.h"

static fd_diag diag;
static fd_testlist tl;

static void setup(void)
{
    fd_diag_init(&diag);
    fd_testlist_init(&tl);
}

static void teardown(void)
{
    fd_diag_free(&diag);
    fd_testlist_free(&tl);
}

TestSuite(ruletest_parse, .init = setup, .fini = teardown);
TestSuite(ruletest_run, .init = setup, .fini = teardown);
TestSuite(ruletest_dir, .init = setup, .fini = teardown);

static int parse(const char *text)
{
    return fd_ruletest_parse("x.tests", text, strlen(text), &tl, &diag);
}

/* The diag as one string, each line ended by '\n' ("" when empty);
 * caller frees. */
static char *diag_str(void)
{
    size_t total = 1;
    for (size_t i = 0; i < diag.n; i++)
        total += strlen(diag.lines[i]) + 1;
    char *s = malloc(total);
    cr_assert(s);
    s[0] = '\0';
    for (size_t i = 0; i < diag.n; i++) {
        strcat(s, diag.lines[i]);
        strcat(s, "\n");
    }
    return s;
}

/* Rules used by the run tests: a block, a flag, an allow over a block. */
#define RULES                                                                                      \
    "@category A1.4\n"                                                                             \
    "@id bomb-howto\n制造炸弹\n"                                                               \
    "@action flag\n@id attack-news\n恐怖袭击\n"                                                \
    "@category A1.6\n@action block\n@id oral\n口交\n"                                            \
    "@action allow\n@id crossing\n路口交通\n"                                                  \
    "@action flag\n@match word\n@id gore\ngore\n"

Test(ruletest_parse, forms_comments_blank_lines)
{
    cr_assert_eq(parse("# a comment\n"
                       "\n"
                       "   \t \n"
                       "  # indented comment\n"
                       "allow\thello\n"
                       "flag\tworld\n"
                       "block\tbomb\n"
                       "block:A1.4\tbomb\n"
                       "flag:A4.6\tphone\n"),
                 0);
    cr_assert_eq(diag.n, 0);
    cr_assert_eq(tl.n, 5);
    cr_assert_str_eq(tl.file, "x.tests");
    cr_assert_eq(tl.cases[0].expect, FD_ALLOW);
    cr_assert_null(tl.cases[0].category);
    cr_assert_str_eq(tl.cases[0].text, "hello");
    cr_assert_eq(tl.cases[0].line, 5);
    cr_assert_eq(tl.cases[1].expect, FD_FLAG);
    cr_assert_eq(tl.cases[2].expect, FD_BLOCK);
    cr_assert_null(tl.cases[2].category);
    cr_assert_eq(tl.cases[3].expect, FD_BLOCK);
    cr_assert_str_eq(tl.cases[3].category, "A1.4");
    cr_assert_eq(tl.cases[4].expect, FD_FLAG);
    cr_assert_str_eq(tl.cases[4].category, "A4.6");
    cr_assert_eq(tl.cases[4].line, 9);
}

Test(ruletest_parse, text_kept_verbatim_after_first_tab)
{
    /* Surrounding spaces in TEXT are significant; extra tabs after the
     * separator are alignment; CRLF line ends are accepted. */
    cr_assert_eq(parse("allow\t  two spaces  \r\n"
                       "block  \t\t\taligned\n"
                       "flag\t# not a comment\n"),
                 0);
    cr_assert_eq(tl.n, 3);
    cr_assert_str_eq(tl.cases[0].text, "  two spaces  ");
    cr_assert_eq(tl.cases[1].expect, FD_BLOCK);
    cr_assert_str_eq(tl.cases[1].text, "aligned");
    cr_assert_str_eq(tl.cases[2].text, "# not a comment");
}

Test(ruletest_parse, escapes)
{
    cr_assert_eq(parse("allow\ta\\nb\\tc\\\\d\n"
                       "allow\t\\\\n stays a backslash and n\n"
                       "allow\t中\\n文\n"),
                 0);
    cr_assert_eq(tl.n, 3);
    cr_assert_str_eq(tl.cases[0].text, "a\nb\tc\\d");
    cr_assert_eq(tl.cases[0].len, 7);
    cr_assert_str_eq(tl.cases[1].text, "\\n stays a backslash and n");
    cr_assert_str_eq(tl.cases[2].text, "中\n文");
}

Test(ruletest_parse, no_trailing_newline_and_no_final_line)
{
    cr_assert_eq(parse("allow\tlast line"), 0);
    cr_assert_eq(tl.n, 1);
    cr_assert_str_eq(tl.cases[0].text, "last line");
    cr_assert_eq(parse(""), 0);
    cr_assert_eq(tl.n, 0);
}

Test(ruletest_parse, malformed_lines_at_exact_line)
{
    cr_assert_eq(parse("allow\tfine\n"           /* 1 */
                       "# comment\n"             /* 2 */
                       "block no tab here\n"     /* 3 */
                       "deny\ttext\n"            /* 4 */
                       "block:\ttext\n"          /* 5 */
                       "allow:A1.4\ttext\n"      /* 6 */
                       "allow\tbad \\x escape\n" /* 7 */
                       "allow\ttrailing \\\n"    /* 8 */
                       "allow\t\n"               /* 9 */
                       "allow\t\xff\xfe\n"       /* 10 */
                       "Block\ttext\n"           /* 11 */
                       "flag\tstill parsed\n"),  /* 12 */
                 FD_ERULES);
    char *all = diag_str();
    cr_assert_str_eq(all,
                     "x.tests:3: expected EXPECT<TAB>TEXT\n"
                     "x.tests:4: unknown expectation 'deny' (allow, flag, block, flag:CATEGORY "
                     "or block:CATEGORY)\n"
                     "x.tests:5: unknown expectation 'block:' (allow, flag, block, "
                     "flag:CATEGORY or block:CATEGORY)\n"
                     "x.tests:6: unknown expectation 'allow:A1.4' (allow, flag, block, "
                     "flag:CATEGORY or block:CATEGORY)\n"
                     "x.tests:7: unknown escape '\\x' (only \\n, \\t and \\\\)\n"
                     "x.tests:8: backslash at end of line (write \\\\)\n"
                     "x.tests:9: empty text\n"
                     "x.tests:10: text is not valid UTF-8\n"
                     "x.tests:11: unknown expectation 'Block' (allow, flag, block, "
                     "flag:CATEGORY or block:CATEGORY)\n");
    free(all);
    /* Well-formed lines are kept, with their own line numbers. */
    cr_assert_eq(tl.n, 2);
    cr_assert_eq(tl.cases[0].line, 1);
    cr_assert_eq(tl.cases[1].line, 12);
}

Test(ruletest_run, each_expect_form_passes)
{
    fd_ruleset *rs = tu_compile(RULES);
    const char *t = "allow\t今天天气很好\n"
                    "allow\t前方路口交通拥堵\n"
                    "block\t教你制造炸弹\n"
                    "block:A1.4\t教你制造炸弹\n"
                    "block:A1.6\t口交\n"
                    "flag\t昨日发生恐怖袭击\n"
                    "flag:A1.4\t昨日发生恐怖袭击\n"
                    "flag:A1.6\tthe film is full of gore\n"
                    "allow\ta gorefest\\nof a film\n"; /* word view: not a word */
    size_t nc = 99, nf = 99;
    int r = fd_ruletest_run_buf(rs, "f.tests", t, strlen(t), &diag, &nc, &nf);
    cr_assert_eq(r, 0);
    cr_assert_eq(nc, 9);
    cr_assert_eq(nf, 0, "failures:\n%s", diag.n ? diag.lines[0] : "");
    cr_assert_eq(diag.n, 0);
    fd_ruleset_unref(rs);
}

Test(ruletest_run, failing_case_reported_at_its_line)
{
    fd_ruleset *rs = tu_compile(RULES);
    const char *t = "# header\n"
                    "block\t教你制造炸弹\n" /* 2 passes */
                    "allow\t教你制造炸弹\n" /* 3 fails */
                    "\n"
                    "flag\t教你制造炸弹\n"          /* 5 fails: block is not flag */
                    "block\t今天天气很好\n"         /* 6 fails, no matches */
                    "block:A1.6\t教你制造炸弹\n"    /* 7 fails: wrong category */
                    "flag:A1.6\t昨日发生恐怖袭击\n" /* 8 fails: wrong category */
                    "block\t路口交通\n";            /* 9 fails: suppressed */
    size_t nc = 0, nf = 0;
    cr_assert_eq(fd_ruletest_run_buf(rs, "dir/f.tests", t, strlen(t), &diag, &nc, &nf), 0);
    cr_assert_eq(nc, 7);
    cr_assert_eq(nf, 6);
    char *all = diag_str();
    cr_assert_str_eq(all,
                     "dir/f.tests:3: expected allow, got block (matches: bomb-howto[A1.4] "
                     "\"制造炸弹\")\n"
                     "dir/f.tests:5: expected flag, got block (matches: bomb-howto[A1.4] "
                     "\"制造炸弹\")\n"
                     "dir/f.tests:6: expected block, got allow (no matches)\n"
                     "dir/f.tests:7: expected block:A1.6, got block (matches: "
                     "bomb-howto[A1.4] \"制造炸弹\")\n"
                     "dir/f.tests:8: expected flag:A1.6, got flag (matches: "
                     "attack-news[A1.4] \"恐怖袭击\")\n"
                     "dir/f.tests:9: expected block, got allow (matches: crossing[A1.6 allow] "
                     "\"路口交通\", oral[A1.6 suppressed] \"口交\")\n",
                     "got:\n%s", all);
    free(all);
    fd_ruleset_unref(rs);
}

Test(ruletest_run, category_needs_a_counted_match_of_that_action)
{
    /* block:A1.6 with a block in A1.4 and only a flag in A1.6: fails. */
    fd_ruleset *rs = tu_compile(RULES);
    const char *t = "block:A1.6\t制造炸弹 gore\n"
                    "block:A1.4\t制造炸弹 gore\n";
    size_t nc = 0, nf = 0;
    cr_assert_eq(fd_ruletest_run_buf(rs, "f.tests", t, strlen(t), &diag, &nc, &nf), 0);
    cr_assert_eq(nc, 2);
    cr_assert_eq(nf, 1);
    cr_assert(strncmp(diag.lines[0], "f.tests:1: expected block:A1.6, got block", 41) == 0, "%s",
              diag.lines[0]);
    fd_ruleset_unref(rs);
}

Test(ruletest_run, unknown_category_is_an_error)
{
    fd_ruleset *rs = tu_compile(RULES);
    const char *t = "allow\tok\nblock:Z9.9\t制造炸弹\n";
    size_t nc = 0, nf = 0;
    cr_assert_eq(fd_ruletest_run_buf(rs, "f.tests", t, strlen(t), &diag, &nc, &nf), FD_ERULES);
    cr_assert_eq(nc, 2);
    cr_assert_eq(nf, 1);
    char *all = diag_str();
    cr_assert_str_eq(all, "f.tests:2: unknown category 'Z9.9'\n");
    free(all);
    fd_ruleset_unref(rs);
}

Test(ruletest_run, malformed_lines_reported_and_the_rest_still_run)
{
    fd_ruleset *rs = tu_compile(RULES);
    const char *t = "block\t制造炸弹\nnonsense\nallow\t制造炸弹\n";
    size_t nc = 0, nf = 0;
    cr_assert_eq(fd_ruletest_run_buf(rs, "f.tests", t, strlen(t), &diag, &nc, &nf), FD_ERULES);
    cr_assert_eq(nc, 2);
    cr_assert_eq(nf, 1);
    cr_assert_eq(diag.n, 2);
    cr_assert_str_eq(diag.lines[0], "f.tests:2: expected EXPECT<TAB>TEXT");
    cr_assert(strncmp(diag.lines[1], "f.tests:3: expected allow, got block", 36) == 0);
    fd_ruleset_unref(rs);
}

Test(ruletest_run, excerpt_escaped_and_cut_on_char_boundary)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n@id long\n/a\"b[^x]*c/\n");
    /* A 70-byte match: cut at 48 bytes, on a boundary, with an ellipsis. */
    const char *t = "allow\ta\"b\\t中文中文中文中文中文中文中文中文中文中文中文中文中文中文c\n";
    size_t nc = 0, nf = 0;
    cr_assert_eq(fd_ruletest_run_buf(rs, "f.tests", t, strlen(t), &diag, &nc, &nf), 0);
    cr_assert_eq(nf, 1);
    cr_assert_str_eq(diag.lines[0], "f.tests:1: expected allow, got block (matches: "
                                    "long[A1.4] \"a\\\"b\\t中文中文中文中文中文中文中文"
                                    "\xE2\x80\xA6\")");
    fd_ruleset_unref(rs);
}

Test(ruletest_dir, recursive_lexical_hidden_skipped)
{
    char *d = tu_ruledir(RULES);
    tu_write(d, "b/two.tests", "block\t制造炸弹\nallow\t制造炸弹\n");
    tu_write(d, "a.tests", "allow\tfine\nflag\tfine\n");
    tu_write(d, "b/a/one.tests", "block:A1.6\t口交\n");
    tu_write(d, ".hidden/x.tests", "block\tnever run\n");
    tu_write(d, "b/.swp.tests", "block\tnever run\n");
    tu_write(d, "notes.txt", "block\tnot a tests file\n");
    fd_ruleset *rs = NULL;
    cr_assert_eq(fd_ruleset_load(d, &rs, &diag), 0);
    size_t nfiles = 0, nc = 0, nf = 0;
    cr_assert_eq(fd_ruletest_run_dir(rs, d, &diag, &nfiles, &nc, &nf), 0);
    cr_assert_eq(nfiles, 3);
    cr_assert_eq(nc, 5);
    cr_assert_eq(nf, 2);
    cr_assert_eq(diag.n, 2);
    /* a.tests sorts before b/…; FILE is relative to the rule directory. */
    cr_assert(strncmp(diag.lines[0], "a.tests:2: expected flag, got allow", 35) == 0, "%s",
              diag.lines[0]);
    cr_assert(strncmp(diag.lines[1], "b/two.tests:2: expected allow, got block", 40) == 0, "%s",
              diag.lines[1]);
    fd_ruleset_unref(rs);
    tu_rmdir(d);
}

Test(ruletest_dir, malformed_file_reported_with_relative_path)
{
    char *d = tu_ruledir(RULES);
    tu_write(d, "sub/bad.tests", "allow\tok\n\nbad line\n");
    fd_ruleset *rs = NULL;
    cr_assert_eq(fd_ruleset_load(d, &rs, &diag), 0);
    size_t nc = 0, nf = 0;
    cr_assert_eq(fd_ruletest_run_dir(rs, d, &diag, NULL, &nc, &nf), FD_ERULES);
    cr_assert_eq(nc, 1);
    cr_assert_eq(nf, 0);
    cr_assert_eq(diag.n, 1);
    cr_assert_str_eq(diag.lines[0], "sub/bad.tests:3: expected EXPECT<TAB>TEXT");
    fd_ruleset_unref(rs);
    tu_rmdir(d);
}

Test(ruletest_dir, missing_directory)
{
    fd_ruleset *rs = tu_compile(RULES);
    size_t nc = 7, nf = 7;
    cr_assert_eq(fd_ruletest_run_dir(rs, "/nonexistent/fd-rules", &diag, NULL, &nc, &nf), FD_EIO);
    cr_assert_eq(nc, 0);
    cr_assert_eq(nf, 0);
    cr_assert_eq(diag.n, 1);
    cr_assert(strstr(diag.lines[0], "cannot read directory"), "%s", diag.lines[0]);
    fd_ruleset_unref(rs);
}

Test(ruletest_dir, empty_directory_has_no_cases)
{
    char *d = tu_ruledir(NULL);
    fd_ruleset *rs = NULL;
    cr_assert_eq(fd_ruleset_load(d, &rs, &diag), 0);
    size_t nfiles = 9, nc = 9, nf = 9;
    cr_assert_eq(fd_ruletest_run_dir(rs, d, &diag, &nfiles, &nc, &nf), 0);
    cr_assert_eq(nfiles, 0);
    cr_assert_eq(nc, 0);
    cr_assert_eq(nf, 0);
    fd_ruleset_unref(rs);
    tu_rmdir(d);
}
