/*
 * test_rules.c — the rule-file parser: every directive, escape and error
 * class of SPEC §3.2, with the exact FILE:LINE of each error.
 */
#include "testutil.h"

#include "rules.h"

static fd_rulelist rl;
static fd_diag diag;

static void setup(void)
{
    fd_rulelist_init(&rl);
    fd_diag_init(&diag);
    const char *cats = TU_CATEGORIES;
    cr_assert_eq(fd_rules_parse_categories(&rl, "categories.tsv", cats, strlen(cats), &diag), 0);
}

static void teardown(void)
{
    fd_rulelist_free(&rl);
    fd_diag_free(&diag);
}

static int parse(const char *text)
{
    return fd_rules_parse_file(&rl, "x.rules", text, strlen(text), &diag);
}

/* Assert that the diagnostics contain exactly one line, equal to WANT. */
static void expect_error(const char *text, const char *want)
{
    cr_assert_eq(parse(text), FD_ERULES, "no error for %s", text);
    cr_assert_eq(diag.n, 1, "%zu diagnostics for %s (first: %s)", diag.n, text,
                 diag.n ? diag.lines[0] : "");
    cr_assert_str_eq(diag.lines[0], want);
}

TestSuite(rules, .init = setup, .fini = teardown);

Test(rules, categories_parsed)
{
    cr_assert_eq(rl.ncats, 3);
    cr_assert_str_eq(rl.cats[0].id, "A1.4");
    cr_assert_str_eq(rl.cats[0].zh, "宣扬恐怖主义、极端主义");
    cr_assert_str_eq(rl.cats[0].en, "Promoting terrorism or extremism");
    cr_assert_str_eq(rl.cats[0].clause, "(1)");
    cr_assert_eq(fd_rules_find_category(&rl, "A4.6"), 2);
    cr_assert_eq(fd_rules_find_category(&rl, "A9.9"), -1);
}

Test(rules, bad_categories)
{
    fd_rulelist x;
    fd_rulelist_init(&x);
    const char *t = "# comment\nA1.1\tzh\ten\t(1)\nA1.2\tzh only\n\nA1.1\ta\tb\t(1)\n";
    cr_assert_eq(fd_rules_parse_categories(&x, "categories.tsv", t, strlen(t), &diag), FD_ERULES);
    cr_assert_eq(diag.n, 2);
    cr_assert(strstr(diag.lines[0], "categories.tsv:3: expected 4 tab-separated fields"));
    cr_assert_str_eq(diag.lines[1], "categories.tsv:5: duplicate category 'A1.1'");
    fd_rulelist_free(&x);
}

Test(rules, defaults_and_directives)
{
    const char *t = "# a comment\n"
                    "\n"
                    "@category A1.4\n"
                    "  制造炸弹  \n"
                    "@action flag\n"
                    "@match word\n"
                    "bomb\n"
                    "@category A1.6\n" /* does not reset action or match */
                    "kill\n"
                    "@action allow\n"
                    "@match raw\n"
                    "@id my.rule-1\n"
                    "bath bomb\n"
                    "plain\n";
    cr_assert_eq(parse(t), 0, "%s", diag.n ? diag.lines[0] : "");
    cr_assert_eq(rl.nrules, 5);
    fd_rule *r = rl.rules;
    cr_assert_str_eq(r[0].pattern, "制造炸弹");
    cr_assert_eq(r[0].action, FD_BLOCK);
    cr_assert_eq(r[0].view, FD_VIEW_NORMALIZED);
    cr_assert_eq(r[0].line, 4);
    cr_assert_str_eq(rl.files[r[0].file], "x.rules");
    cr_assert_eq(r[1].action, FD_FLAG);
    cr_assert_eq(r[1].view, FD_VIEW_WORD);
    cr_assert_eq(r[2].category, 1);
    cr_assert_eq(r[2].action, FD_FLAG);
    cr_assert_eq(r[2].view, FD_VIEW_WORD);
    cr_assert_eq(r[3].action, FD_ALLOW);
    cr_assert_eq(r[3].view, FD_VIEW_RAW);
    cr_assert_str_eq(r[3].id, "my.rule-1");
    cr_assert(r[3].named);
    /* @id names the next pattern only */
    cr_assert(!r[4].named);
    cr_assert_str_neq(r[4].id, "my.rule-1");
}

Test(rules, new_file_starts_from_defaults)
{
    cr_assert_eq(parse("@category A1.4\n@action flag\n@match raw\nx\n"), 0);
    cr_assert_eq(fd_rules_parse_file(&rl, "y.rules", "@category A1.6\ny\n", 16, &diag), 0);
    cr_assert_eq(rl.rules[1].action, FD_BLOCK);
    cr_assert_eq(rl.rules[1].view, FD_VIEW_NORMALIZED);
    cr_assert_str_eq(rl.files[rl.rules[1].file], "y.rules");
    /* and @category does not carry over */
    cr_assert_eq(fd_rules_parse_file(&rl, "z.rules", "z\n", 2, &diag), FD_ERULES);
    cr_assert_str_eq(diag.lines[0], "z.rules:1: pattern before any @category");
}

Test(rules, regexes_and_flags)
{
    cr_assert_eq(parse("@category A1.4\n/a.b/\n/x y/ism\n/a\\/b/i\n"), 0);
    cr_assert(rl.rules[0].regex);
    cr_assert_str_eq(rl.rules[0].pattern, "a.b");
    cr_assert_eq(rl.rules[0].rx_flags, 0);
    cr_assert_str_eq(rl.rules[1].pattern, "x y");
    cr_assert_eq(rl.rules[1].rx_flags, FD_RX_CASELESS | FD_RX_DOTALL | FD_RX_MULTILINE);
    cr_assert_str_eq(rl.rules[2].pattern, "a\\/b");
    cr_assert_eq(rl.rules[2].rx_flags, FD_RX_CASELESS);
}

Test(rules, literal_escapes)
{
    cr_assert_eq(parse("@category A1.4\n\\#hashtag\n\\@user\n\\/path/x\n\\\\back\nmid#dle\n"), 0);
    cr_assert_eq(rl.nrules, 5);
    cr_assert_str_eq(rl.rules[0].pattern, "#hashtag");
    cr_assert(!rl.rules[0].regex);
    cr_assert_str_eq(rl.rules[1].pattern, "@user");
    cr_assert_str_eq(rl.rules[2].pattern, "/path/x");
    cr_assert(!rl.rules[2].regex);
    cr_assert_str_eq(rl.rules[3].pattern, "\\back");
    cr_assert_str_eq(rl.rules[4].pattern, "mid#dle");
}

Test(rules, crlf_and_indented_comments)
{
    cr_assert_eq(parse("@category A1.4\r\n   # indented comment\r\nabc\r\n"), 0);
    cr_assert_eq(rl.nrules, 1);
    cr_assert_str_eq(rl.rules[0].pattern, "abc");
    cr_assert_eq(rl.rules[0].line, 3);
}

Test(rules, stable_derived_ids)
{
    cr_assert_eq(parse("@category A1.4\nbomb\n"), 0);
    char *id1 = strdup(rl.rules[0].id);
    /* other lines, another action, another position: same id */
    cr_assert_eq(fd_rules_parse_file(&rl, "other.rules",
                                     "# x\n@category A1.4\n@action flag\nfoo\nbomb\n", 40, &diag),
                 0);
    cr_assert_str_eq(rl.rules[2].id, id1);
    cr_assert(strncmp(id1, "A1.4-", 5) == 0);
    cr_assert_eq(strlen(id1), 5 + 12);
    /* another category or pattern: another id */
    cr_assert_str_neq(rl.rules[1].id, id1);
    cr_assert_eq(fd_rules_parse_file(&rl, "c.rules", "@category A1.6\nbomb\n", 20, &diag), 0);
    cr_assert_str_neq(rl.rules[3].id, id1);
    free(id1);
}

Test(rules, error_unknown_directive)
{
    expect_error("@category A1.4\n@severity high\n", "x.rules:2: unknown directive '@severity'");
}

Test(rules, error_directive_without_value)
{
    expect_error("@category\n", "x.rules:1: directive '@category' needs a value");
}

Test(rules, error_unknown_category)
{
    expect_error("\n@category A9.9\n",
                 "x.rules:2: unknown category 'A9.9' (not in categories.tsv)");
}

Test(rules, error_unknown_action)
{
    expect_error("@category A1.4\n@action drop\n",
                 "x.rules:2: unknown action 'drop' (block, flag or allow)");
}

Test(rules, error_unknown_view)
{
    expect_error("@category A1.4\n@match fuzzy\n",
                 "x.rules:2: unknown match view 'fuzzy' (normalized, word or raw)");
}

Test(rules, error_bad_id)
{
    expect_error("@category A1.4\n@id has space\nx\n",
                 "x.rules:2: invalid rule id 'has space' (1-128 of A-Z a-z 0-9 . _ - :)");
}

Test(rules, error_dangling_id)
{
    expect_error("@category A1.4\nx\n@id last\n",
                 "x.rules:3: @id 'last' is not followed by a pattern");
}

Test(rules, error_pattern_before_category)
{
    expect_error("# header\nbomb\n", "x.rules:2: pattern before any @category");
}

Test(rules, error_bad_regex_syntax)
{
    expect_error("@category A1.4\n/abc\n",
                 "x.rules:2: regex must be written /REGEX/FLAGS (a literal starting with '/' "
                 "is written \\/...)");
}

Test(rules, error_unknown_regex_flag)
{
    expect_error("@category A1.4\n/abc/ix\n", "x.rules:2: unknown regex flag 'x' (i, s or m)");
}

Test(rules, error_empty_regex)
{
    expect_error("@category A1.4\n//\n", "x.rules:2: empty regex");
}

Test(rules, error_bad_escape)
{
    expect_error("@category A1.4\n\\d\n",
                 "x.rules:2: a leading '\\' escapes only '#', '@', '/' or '\\' at the start of "
                 "a literal");
}

Test(rules, error_invalid_utf8)
{
    expect_error("@category A1.4\nab\xff\n", "x.rules:2: invalid UTF-8");
}

Test(rules, all_errors_reported)
{
    cr_assert_eq(parse("@category A1.4\n@bogus 1\nok\n@action nope\n/x\n"), FD_ERULES);
    cr_assert_eq(diag.n, 3);
    cr_assert(strncmp(diag.lines[0], "x.rules:2:", 10) == 0);
    cr_assert(strncmp(diag.lines[1], "x.rules:4:", 10) == 0);
    cr_assert(strncmp(diag.lines[2], "x.rules:5:", 10) == 0);
}

Test(rules, action_and_view_names)
{
    cr_assert_str_eq(fd_action_name(FD_BLOCK), "block");
    cr_assert_str_eq(fd_action_name(FD_FLAG), "flag");
    cr_assert_str_eq(fd_action_name(FD_ALLOW), "allow");
    cr_assert_str_eq(fd_view_name(FD_VIEW_WORD), "word");
}

/* ---- directories ---- */

TestSuite(ruledir);

Test(ruledir, lexical_order_recursive_and_version)
{
    char *d = tu_ruledir(NULL);
    tu_write(d, "b.rules", "@category A1.4\nbee\n");
    tu_write(d, "a/z.rules", "@category A1.4\nzed\n");
    tu_write(d, "a.rules", "@category A1.4\nay\n");
    tu_write(d, "notes.txt", "not a rule file\n");
    tu_write(d, ".hidden.rules", "@category A1.4\nhidden\n");
    fd_rulelist l;
    fd_diag dg = FD_DIAG_INIT;
    cr_assert_eq(fd_rules_load_dir(d, &l, &dg), 0);
    cr_assert_eq(l.nrules, 3);
    cr_assert_str_eq(l.files[0], "a.rules");
    cr_assert_str_eq(l.files[1], "a/z.rules");
    cr_assert_str_eq(l.files[2], "b.rules");
    cr_assert_str_eq(l.rules[0].pattern, "ay");
    cr_assert_eq(strlen(l.version), 64);
    char v1[65];
    memcpy(v1, l.version, 65);
    fd_rulelist_free(&l);

    /* same files, same version */
    cr_assert_eq(fd_rules_load_dir(d, &l, &dg), 0);
    cr_assert_str_eq(l.version, v1);
    fd_rulelist_free(&l);
    /* one byte changed: another version */
    tu_write(d, "b.rules", "@category A1.4\nbee \n");
    cr_assert_eq(fd_rules_load_dir(d, &l, &dg), 0);
    cr_assert_str_neq(l.version, v1);
    fd_rulelist_free(&l);
    cr_assert_eq(dg.n, 0);
    tu_rmdir(d);
}

Test(ruledir, world_writable_refused)
{
    char *d = tu_ruledir("@category A1.4\nbomb\n");
    char p[4200];
    snprintf(p, sizeof p, "%s/test.rules", d);
    chmod(p, 0666);
    fd_rulelist l;
    fd_diag dg = FD_DIAG_INIT;
    cr_assert_eq(fd_rules_load_dir(d, &l, &dg), FD_ERULES);
    cr_assert_eq(l.nrules, 0);
    cr_assert_eq(dg.n, 1);
    cr_assert_str_eq(dg.lines[0], "test.rules:0: refusing a world-writable file (chmod o-w)");
    fd_diag_free(&dg);
    tu_rmdir(d);
}

Test(ruledir, all_or_nothing)
{
    char *d = tu_ruledir("@category A1.4\nbomb\n");
    tu_write(d, "zz.rules", "@category A1.4\nfine\n@action maybe\n");
    fd_rulelist l;
    fd_diag dg = FD_DIAG_INIT;
    cr_assert_eq(fd_rules_load_dir(d, &l, &dg), FD_ERULES);
    cr_assert_eq(l.nrules, 0);
    cr_assert_null(l.rules);
    cr_assert_eq(dg.n, 1);
    cr_assert_str_eq(dg.lines[0], "zz.rules:3: unknown action 'maybe' (block, flag or allow)");
    fd_diag_free(&dg);
    tu_rmdir(d);
}

Test(ruledir, missing_categories)
{
    char tmpl[] = "/tmp/fd-test-XXXXXX";
    char *d = strdup(mkdtemp(tmpl));
    tu_write(d, "a.rules", "@category A1.4\nx\n");
    fd_rulelist l;
    fd_diag dg = FD_DIAG_INIT;
    cr_assert_eq(fd_rules_load_dir(d, &l, &dg), FD_ERULES);
    cr_assert_eq(dg.n, 1);
    cr_assert(strncmp(dg.lines[0], "categories.tsv:0: cannot open:", 30) == 0, "%s", dg.lines[0]);
    fd_diag_free(&dg);
    tu_rmdir(d);
}

Test(ruledir, not_a_directory)
{
    fd_rulelist l;
    fd_diag dg = FD_DIAG_INIT;
    cr_assert_eq(fd_rules_load_dir("/nonexistent/rules", &l, &dg), FD_EIO);
    cr_assert(strstr(dg.lines[0], "/nonexistent/rules:0: not a readable rule directory"));
    fd_diag_free(&dg);
}

Test(ruledir, duplicate_ids)
{
    char *d = tu_ruledir("@category A1.4\n@id dup\nfoo\n@id dup\nbar\nsame\nsame\n");
    fd_rulelist l;
    fd_diag dg = FD_DIAG_INIT;
    cr_assert_eq(fd_rules_load_dir(d, &l, &dg), FD_ERULES);
    cr_assert_eq(dg.n, 1);
    cr_assert_str_eq(dg.lines[0], "test.rules:5: duplicate rule id 'dup' (also at test.rules:3)");
    fd_diag_free(&dg);
    /* a repeated pattern line gets a suffixed id, not an error */
    tu_write(d, "test.rules", "@category A1.4\nsame\nsame\n");
    cr_assert_eq(fd_rules_load_dir(d, &l, &dg), 0);
    cr_assert_eq(l.nrules, 2);
    cr_assert_eq(strlen(l.rules[1].id), strlen(l.rules[0].id) + 2);
    cr_assert(strncmp(l.rules[1].id, l.rules[0].id, strlen(l.rules[0].id)) == 0);
    cr_assert_str_eq(l.rules[1].id + strlen(l.rules[0].id), "~2");
    fd_rulelist_free(&l);
    tu_rmdir(d);
}

Test(ruledir, bundled_rules_load)
{
    fd_rulelist l;
    fd_diag dg = FD_DIAG_INIT;
    int r = fd_rules_load_dir(FD_SOURCE_DIR "/rules", &l, &dg);
    cr_assert_eq(r, 0, "%s", dg.n ? dg.lines[0] : "");
    cr_assert_eq(l.ncats, 31);
    cr_assert_str_eq(l.cats[0].id, "A1.1");
    cr_assert_str_eq(l.cats[30].id, "A5.2");
    cr_assert_gt(l.nrules, 0);
    fd_rulelist_free(&l);
}
