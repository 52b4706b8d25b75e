/*
 * corpus_util.h — what the benign-corpus tests share: counting decisions
 * of the bundled rules over entries and printing each block/flag match.
 */
#ifndef FD_CORPUS_UTIL_H
#define FD_CORPUS_UTIL_H

#include "testutil.h"

#include "utf8.h"

typedef struct corpus_stats {
    size_t files, entries, invalid, flags, blocks;
} corpus_stats;

/* One-line excerpt of TEXT[S, E) with some context, newlines shown as ⏎. */
static inline void show(FILE *out, const char *text, size_t len, size_t s, size_t e)
{
    size_t a = s > 24 ? s - 24 : 0, b = e + 24 < len ? e + 24 : len;
    while (a > 0 && ((unsigned char)text[a] & 0xC0) == 0x80)
        a--;
    while (b < len && ((unsigned char)text[b] & 0xC0) == 0x80)
        b++;
    fputc('"', out);
    for (size_t i = a; i < b; i++) {
        if (i == s)
            fputs("[[", out);
        if (text[i] == '\n')
            fputs("\xE2\x8F\x8E", out);
        else if ((unsigned char)text[i] >= 0x20 || text[i] == '\t')
            fputc(text[i], out);
        if (i + 1 == e)
            fputs("]]", out);
    }
    fputc('"', out);
}

/* Scan one benign entry, print each block/flag match, count the decision. */
static inline void scan_entry(fd_ruleset *rs, fd_scratch *sc, fd_result *res, const char *name,
                              size_t entry, const char *t, size_t tl, corpus_stats *st)
{
    if (!fd_utf8_valid(t, tl)) {
        st->invalid++;
        return;
    }
    cr_assert_eq(fd_scan(rs, sc, t, tl, res), 0);
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (m->action == FD_ALLOW || m->suppressed)
            continue;
        const fd_rule *r = fd_ruleset_rule(rs, m->rule);
        fprintf(stderr, "corpus: %s %s#%zu %s[%s] %s:%u ", m->action == FD_BLOCK ? "BLOCK" : "flag",
                name, entry, r->id, fd_ruleset_category(rs, r->category)->id,
                fd_ruleset_file(rs, r->file), r->line);
        show(stderr, t, tl, m->start, m->end);
        fputc('\n', stderr);
    }
    st->flags += res->decision == FD_FLAG;
    st->blocks += res->decision == FD_BLOCK;
}

/* The bundled rule set, or a failed test. */
static inline fd_ruleset *bundled(void)
{
    fd_diag diag = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    int r = fd_ruleset_load(FD_SOURCE_DIR "/rules", &rs, &diag);
    if (r) {
        char *all = fd_diag_join(&diag);
        cr_assert_fail("bundled rules: %s\n%s", fd_strerror(r), all ? all : "");
    }
    fd_diag_free(&diag);
    return rs;
}

#endif
