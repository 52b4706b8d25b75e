/*
 * test_fuzz_regress.c — inputs found by the libFuzzer harnesses
 * (tests/fuzz), replayed as unit tests. Most are only visible under
 * AddressSanitizer/LeakSanitizer (make test-asan); the corpus files named
 * here are also replayed by `make fuzz` (tests/fuzz/corpus/).
 */
#include "testutil.h"

/* Under AddressSanitizer, a leak check the test itself asserts on: a leak
 * reported when a Criterion worker exits does not fail the test. */
#if defined(__SANITIZE_ADDRESS__)
#define FD_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FD_HAVE_LSAN 1
#endif
#endif
#ifdef FD_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#define ASSERT_NO_LEAKS()                                                                          \
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (report above)")
#else
#define ASSERT_NO_LEAKS() ((void)0)
#endif

/*
 * fuzz_rules, leak: a compile that fails (here a bad regex) after a regex
 * that Hyperscan can only prefilter (a look-behind, confirmed by PCRE2)
 * leaked that regex's PCRE2 code and JIT memory: the error path of
 * fd_ruleset_compile_opts() emptied the borrowed rule list before
 * ruleset_free(), whose loop over rl.nrules frees the codes. Every failed
 * reload of a rule set with such regexes leaked them all.
 * Corpus: tests/fuzz/corpus/fuzz_rules/regress-leak-pcre2-on-error.rules
 */
Test(fuzz_regress, failed_compile_frees_pcre2_codes)
{
    char *err = tu_compile_error("@category A1.4\n"
                                 "/(?<!a)b/\n"
                                 "/(?<![0-9])1[3-9][0-9]{9}(?![0-9])/\n"
                                 "/(/\n");
    cr_assert(strstr(err, "test.rules:4:"), "%s", err);
    free(err);
    /* and an error of another kind after them: a literal empty after
     * normalization */
    err = tu_compile_error("@category A1.4\n/(?<!a)b/\n\u200b\u200b\n");
    cr_assert(strstr(err, "test.rules:3:"), "%s", err);
    free(err);
    ASSERT_NO_LEAKS();
}

/*
 * fuzz_stream (with the bundled rules, FILTERD_FUZZ_RULES=rules), OPEN BUG:
 * a stream blocks on a look-behind regex whose whole-text scan does not
 * match. `(?<!不)支持台独` must not match "不支持台独…"; fd_scan agrees, but
 * a stream of the same 59 bytes (one chunk or any split) reports a block at
 * [3,13) at close, after having released 18 bytes (into that match). The
 * hold-back of the buffer comes from the other rule (width 42): after the
 * feed, trim() cuts the window at 3, dropping the look-behind context 不;
 * at close the regex is confirmed again by confirm(), which runs PCRE2 from
 * offset 0 of the trimmed window, where the look-behind sees nothing.
 * Only windows cut at 18-20 bytes before the end reproduce it (44-46 'a's).
 * Disabled until stream.c is fixed: enable it with the fix.
 */
#include "stream.h"

Test(fuzz_regress, stream_lookbehind_context_after_trim)
{
    fd_ruleset *rs = tu_compile("@category A1.4\n"
                                "/(?<!不)支持台独/\n"
                                "@action flag\n"
                                "/qq[a-z]{0,40}/\n");
    char text[128];
    snprintf(text, sizeof text, "不支持台独%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    size_t len = strlen(text);
    cr_assert_eq(len, 59);
    fd_scratch *s = NULL;
    cr_assert_eq(fd_scratch_new(rs, &s), 0);
    fd_result res;
    fd_result_init(&res);
    cr_assert_eq(fd_scan(rs, s, text, len, &res), 0);
    cr_assert_eq(res.n, 0);
    cr_assert_eq(res.decision, FD_ALLOW);

    fd_stream *st = NULL;
    cr_assert_eq(fd_stream_open(rs, s, 0, &st), 0);
    uint64_t rel;
    cr_assert_eq(fd_stream_feed(st, s, text, len, &res, &rel), 0);
    cr_assert_eq(res.n, 0);
    cr_assert_eq(fd_stream_close(st, s, &res, &rel), 0);
    cr_assert_eq(res.n, 0, "stream reported %zu matches, first [%u,%u)", res.n,
                 res.n ? res.matches[0].start : 0, res.n ? res.matches[0].end : 0);
    cr_assert_eq(res.decision, FD_ALLOW);
    cr_assert_eq(rel, len);
    fd_stream_free(st);
    fd_result_free(&res);
    fd_scratch_free(s);
    fd_ruleset_unref(rs);
}
