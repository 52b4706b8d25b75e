/*
 * test_corpus_zh.c — false positives of the bundled rules on Debian's
 * Chinese manual pages (package manpages-zh), a test binary of its own so
 * that it has its own time limit: ~67,000 paragraphs take minutes under
 * AddressSanitizer.
 */
#include "corpus_util.h"

/* Append the text of one troff line to P (macros dropped, font changes and
 * the common escapes removed), as a man page reader sees it. */
static void troff_text(const char *line, char *p, size_t *n, size_t cap)
{
    if (line[0] == '.' || line[0] == '\'')
        return;
    for (const char *q = line; *q && *q != '\n' && *n + 2 < cap; q++) {
        if (q[0] == '\\' && q[1]) {
            if (q[1] == 'f' && q[2]) {
                q += 2; /* \fB, \fI, \fP, \fR */
                continue;
            }
            if (q[1] == '-' || q[1] == 'e' || q[1] == '\\') {
                p[(*n)++] = q[1] == 'e' ? '\\' : q[1];
                q++;
                continue;
            }
            q++; /* \, \/ \& and others: dropped */
            continue;
        }
        p[(*n)++] = *q;
    }
    p[(*n)++] = '\n';
}

/*
 * Debian's Chinese manual pages (package manpages-zh: ~1,500 pages of
 * simplified and traditional technical prose, command names and option
 * lists mixed with Chinese), one paragraph per entry: none may be blocked.
 */
Test(corpus, manpages_zh_never_blocked, .timeout = 600)
{
    FILE *ls = popen("find /usr/share/man/zh_CN /usr/share/man/zh_TW -name '*.gz' "
                     "-type f 2>/dev/null | LC_ALL=C sort",
                     "r");
    cr_assert(ls);
    fd_ruleset *rs = bundled();
    fd_scratch *sc = NULL;
    cr_assert_eq(fd_scratch_new(rs, &sc), 0);
    fd_result res;
    fd_result_init(&res);
    corpus_stats st = {0};
    char path[4096], cmd[4200], line[8192];
    size_t cap = 1 << 16;
    char *para = malloc(cap);
    cr_assert(para);
    while (fgets(path, sizeof path, ls)) {
        path[strcspn(path, "\n")] = '\0';
        snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
        FILE *f = popen(cmd, "r");
        cr_assert(f);
        st.files++;
        size_t n = 0, entry = 0;
        const char *name = strstr(path, "/man/") ? strstr(path, "/man/") + 5 : path;
        for (;;) {
            int eof = !fgets(line, sizeof line, f);
            /* A paragraph ends at a blank line or a paragraph/section macro. */
            int brk = eof || line[0] == '\n' ||
                      (line[0] == '.' && strchr("PSTIL", line[1]) && line[1] != '\0');
            if (brk && n > 0) {
                entry++;
                st.entries++;
                scan_entry(rs, sc, &res, name, entry, para, n, &st);
                n = 0;
            }
            if (eof)
                break;
            troff_text(line, para, &n, cap);
        }
        pclose(f);
    }
    pclose(ls);
    free(para);
    fprintf(stderr,
            "corpus: manpages-zh: %zu pages, %zu paragraphs (%zu not UTF-8, skipped), %zu "
            "flagged, %zu blocked\n",
            st.files, st.entries, st.invalid, st.flags, st.blocks);
    if (st.files == 0)
        cr_skip_test("manpages-zh not installed (scripts/install-deps.sh installs it)");
    cr_expect_gt(st.files, 1000, "the manual pages look incomplete");
    cr_expect_eq(st.blocks, 0, "%zu benign paragraphs blocked (BLOCK lines above)", st.blocks);
    fd_result_free(&res);
    fd_scratch_free(sc);
    fd_ruleset_unref(rs);
}
