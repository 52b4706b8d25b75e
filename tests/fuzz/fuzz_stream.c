/*
 * fuzz_stream — stream chunking against the whole-text scan, on the fixed
 * rule set of fuzz_scan. Input: byte 0 low nibble = number of cuts N, then
 * N little-endian 16-bit cut positions (taken modulo len + 1, sorted), then
 * the text. Texts that are not valid UTF-8 are skipped (cuts may still fall
 * inside a character: a chunk may end mid-character).
 *
 * The comparison of tests/unit/test_stream.c check_split: the stream's
 * block/flag matches, sorted, equal fd_scan()'s (rule, start, end,
 * suppressed); so does the decision; release never decreases, never passes
 * the bytes fed, always falls on a character boundary, never covers a match reported later or a
 * blocking match, and is the whole length at close unless blocked. A blocked stream reports only
 * whole-text matches and the whole text is blocked too.
 *
 * Texts up to 40 bytes use the default hold-back (their normalized form
 * stays under it); longer ones a hold-back of 64 KiB, larger than any
 * normalized 4 KiB text, so that unbounded regexes must match exactly too.
 *
 * The same cuts, moved back to character boundaries, feed the streaming
 * normalizer (fd_norm_feed, fd_norm_feed_both): the concatenated output
 * must equal fd_norm() of the whole text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "norm.h"
#include "stream.h"

#define FZ_MAX_TEXT 4096
#define FZ_MAX_CUTS 15

static fd_ruleset *rs;
static fd_scratch *scratch;
static fd_result whole, part;
static fd_normbuf nb[2], sb[2], sb2[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    rs = fz_fixed_ruleset();
    if (fd_scratch_new(rs, &scratch))
        abort();
    fd_result_init(&whole);
    fd_result_init(&part);
    for (int i = 0; i < 2; i++) {
        fd_normbuf_init(&nb[i]);
        fd_normbuf_init(&sb[i]);
        fd_normbuf_init(&sb2[i]);
    }
    return 0;
}

static int cmp_match(const void *a, const void *b)
{
    const fd_match *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return (x->rule > y->rule) - (x->rule < y->rule);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int same_match(const fd_match *a, const fd_match *b)
{
    return a->rule == b->rule && a->start == b->start && a->end == b->end &&
           a->suppressed == b->suppressed;
}

typedef struct mlist {
    fd_match *m;
    size_t *at; /* index of the response that reported it */
    size_t n, cap;
} mlist;

static void mlist_add(mlist *l, const fd_match *m, size_t at)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->m = realloc(l->m, l->cap * sizeof *l->m);
        l->at = realloc(l->at, l->cap * sizeof *l->at);
        if (!l->m || !l->at)
            abort();
    }
    l->m[l->n] = *m;
    l->at[l->n++] = at;
}

static void check_stream(const char *text, size_t len, const size_t *cuts, size_t ncuts)
{
    FZ_CHECK(fd_scan(rs, scratch, text, len, &whole) == 0, "whole-text scan failed");
    mlist want = {0}, got = {0};
    for (size_t i = 0; i < whole.n; i++)
        if (whole.matches[i].action != FD_ALLOW)
            mlist_add(&want, &whole.matches[i], 0);

    fd_stream *st = NULL;
    FZ_CHECK(fd_stream_open(rs, scratch, len <= 40 ? 0 : 1u << 16, &st) == 0, "open");
    uint64_t rel = 0, prev_rel = 0, releases[FZ_MAX_CUTS + 2];
    size_t nresp = 0, pos = 0;
    int blocked = 0;
    for (size_t k = 0; k <= ncuts && !blocked; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        int r = fd_stream_feed(st, scratch, text + pos, end - pos, &part, &rel);
        FZ_CHECK(r == 0, "feed %zu [%zu,%zu): %s", k, pos, end, fd_strerror(r));
        pos = end;
        FZ_CHECK(rel >= prev_rel, "feed %zu: release went back %lu -> %lu", k,
                 (unsigned long)prev_rel, (unsigned long)rel);
        FZ_CHECK(rel <= pos, "feed %zu: released %lu of %zu bytes fed", k, (unsigned long)rel, pos);
        FZ_CHECK(rel == len || ((unsigned char)text[rel] & 0xC0) != 0x80,
                 "feed %zu: release %lu inside a character", k, (unsigned long)rel);
        prev_rel = rel;
        for (size_t i = 0; i < part.n; i++)
            mlist_add(&got, &part.matches[i], nresp);
        releases[nresp++] = rel;
        blocked = fd_stream_blocked(st);
    }
    if (!blocked) {
        int r = fd_stream_close(st, scratch, &part, &rel);
        FZ_CHECK(r == 0, "close: %s", fd_strerror(r));
        FZ_CHECK(rel >= prev_rel, "close: release went back");
        for (size_t i = 0; i < part.n; i++)
            mlist_add(&got, &part.matches[i], nresp);
        releases[nresp++] = rel;
        if (part.decision != FD_BLOCK)
            FZ_CHECK(rel == len, "close released %lu of %zu", (unsigned long)rel, len);
    }
    for (size_t i = 0; i < got.n; i++) {
        const fd_match *m = &got.m[i];
        FZ_CHECK(m->action != FD_ALLOW, "stream reported an allow match");
        for (size_t r = 0; r < got.at[i]; r++)
            FZ_CHECK(releases[r] <= m->start, "release %lu before match %s [%u,%u) was reported",
                     (unsigned long)releases[r], fd_ruleset_rule(rs, m->rule)->id, m->start,
                     m->end);
        if (m->action == FD_BLOCK && !m->suppressed)
            FZ_CHECK(rel <= m->start, "released %lu: into blocking match %s [%u,%u)",
                     (unsigned long)rel, fd_ruleset_rule(rs, m->rule)->id, m->start, m->end);
    }
    fd_action dec = fd_stream_decision(st);
    fd_stream_free(st);
    if (got.n)
        qsort(got.m, got.n, sizeof *got.m, cmp_match);
    if (blocked) {
        FZ_CHECK(whole.decision == FD_BLOCK, "stream blocked, whole text is %s",
                 fd_action_name(whole.decision));
        FZ_CHECK(dec == FD_BLOCK, "blocked stream's decision %s", fd_action_name(dec));
        for (size_t i = 0; i < got.n; i++) {
            int found = 0;
            for (size_t j = 0; j < want.n && !found; j++)
                found = same_match(&got.m[i], &want.m[j]);
            FZ_CHECK(found, "blocked stream: match %s [%u,%u) not in the whole-text scan",
                     fd_ruleset_rule(rs, got.m[i].rule)->id, got.m[i].start, got.m[i].end);
        }
    } else {
        FZ_CHECK(dec == whole.decision, "decision %s, whole text %s", fd_action_name(dec),
                 fd_action_name(whole.decision));
        for (size_t i = 0; i < got.n && i < want.n; i++) {
            const fd_match *a = &got.m[i], *b = &want.m[i];
            FZ_CHECK(same_match(a, b), "match %zu is %s [%u,%u)%s, want %s [%u,%u)%s", i,
                     fd_ruleset_rule(rs, a->rule)->id, a->start, a->end, a->suppressed ? "s" : "",
                     fd_ruleset_rule(rs, b->rule)->id, b->start, b->end, b->suppressed ? "s" : "");
        }
        FZ_CHECK(got.n == want.n, "%zu matches, want %zu", got.n, want.n);
    }
    free(want.m);
    free(want.at);
    free(got.m);
    free(got.at);
}

static void same_norm(const fd_normbuf *a, const fd_normbuf *b, const char *what)
{
    FZ_CHECK(a->len == b->len, "%s: %zu bytes vs %zu", what, a->len, b->len);
    FZ_CHECK(memcmp(a->text, b->text, a->len) == 0, "%s: texts differ", what);
    FZ_CHECK(memcmp(a->map, b->map, a->len * sizeof *a->map) == 0, "%s: maps differ", what);
}

static void check_norm_stream(const char *text, size_t len, const size_t *cuts, size_t ncuts)
{
    size_t whole_cuts[FZ_MAX_CUTS];
    for (size_t k = 0; k < ncuts; k++) {
        size_t c = cuts[k];
        while (c > 0 && c < len && ((unsigned char)text[c] & 0xC0) == 0x80)
            c--;
        whole_cuts[k] = c;
    }
    fd_norm_state st[2], kst, sst;
    for (int m = 0; m < 2; m++) {
        FZ_CHECK(fd_norm(text, len, (fd_norm_mode)m, &nb[m]) == 0, "fd_norm");
        fd_norm_begin(&st[m], (fd_norm_mode)m);
        sb[m].len = 0;
        sb2[m].len = 0;
    }
    fd_norm_begin(&kst, FD_NORM_KEEP_SEP);
    fd_norm_begin(&sst, FD_NORM_STRIP_SEP);
    size_t pos = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? whole_cuts[k] : len;
        if (end < pos)
            end = pos;
        for (int m = 0; m < 2; m++)
            FZ_CHECK(fd_norm_feed(&st[m], text + pos, end - pos, &sb[m]) == 0, "fd_norm_feed");
        FZ_CHECK(fd_norm_feed_both(&kst, &sst, text + pos, end - pos, &sb2[0], &sb2[1]) == 0,
                 "fd_norm_feed_both");
        pos = end;
    }
    same_norm(&sb[0], &nb[0], "streamed keep");
    same_norm(&sb[1], &nb[1], "streamed strip");
    same_norm(&sb2[0], &nb[0], "streamed both keep");
    same_norm(&sb2[1], &nb[1], "streamed both strip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t ncuts = data[0] & 0x0F;
    if (size < 1 + 2 * ncuts)
        return 0;
    const char *text = (const char *)data + 1 + 2 * ncuts;
    size_t len = size - 1 - 2 * ncuts;
    if (len > FZ_MAX_TEXT || !fd_utf8_valid(text, len))
        return 0;
    size_t cuts[FZ_MAX_CUTS];
    for (size_t k = 0; k < ncuts; k++)
        cuts[k] = (size_t)(data[1 + 2 * k] | data[2 + 2 * k] << 8) % (len + 1);
    if (ncuts)
        qsort(cuts, ncuts, sizeof *cuts, cmp_size);
    check_stream(text, len, cuts, ncuts);
    check_norm_stream(text, len, cuts, ncuts);
    return 0;
}
