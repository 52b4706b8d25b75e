/*
 * fuzz_rules — the rule-file parser and compiler. Input: the bytes of one
 * rule file, parsed against the bundled categories.tsv; when it parses, it
 * is compiled, and the compiled set scans the input itself (when the input
 * is UTF-8) so that what the parser accepted is also exercised at scan time,
 * whole and as a stream of three chunks (the stream must report what the
 * whole-text scan does, as in fuzz_stream).
 * Errors are fine; crashes, leaks, UB and broken contracts are not.
 *
 * Hyperscan compile time grows with pattern size (a{1000}{1000}…), so the
 * input is capped at FZ_MAX_INPUT bytes and FZ_MAX_PATTERNS pattern lines,
 * and counted repeats above FZ_MAX_REPEAT are skipped: the point is the
 * engine's own code, not the compile time of huge regexes.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ruleset.h"
#include "scan.h"
#include "stream.h"

#define FZ_MAX_INPUT    4096
#define FZ_MAX_PATTERNS 64
#define FZ_MAX_REPEAT   200

static char *categories;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    categories = fz_read_file(FD_SOURCE_DIR "/rules/categories.tsv");
    return 0;
}

/* Whether the input is cheap enough to compile: few pattern lines, no
 * large counted repeats. */
static int affordable(const char *s, size_t n)
{
    size_t patterns = 0;
    int bol = 1;
    for (size_t i = 0; i < n; i++) {
        if (bol) {
            size_t j = i;
            while (j < n && (s[j] == ' ' || s[j] == '\t'))
                j++;
            if (j < n && s[j] != '#' && s[j] != '@' && s[j] != '\n')
                patterns++;
            else if (j + 4 < n && memcmp(s + j, "@all", 4) == 0)
                patterns += 4;
        }
        bol = s[i] == '\n';
        if (s[i] == '{' || s[i] == ',') {
            unsigned long v = 0;
            size_t j = i + 1;
            while (j < n && isdigit((unsigned char)s[j]) && v <= FZ_MAX_REPEAT)
                v = v * 10 + (unsigned long)(s[j++] - '0');
            if (v > FZ_MAX_REPEAT)
                return 0;
        }
    }
    return patterns <= FZ_MAX_PATTERNS;
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

/* The same text through a stream in three chunks (cut anywhere, even inside
 * a character), with a hold-back larger than any normalized 4 KiB text:
 * the block/flag matches and the decision of the whole-text scan WHOLE. */
static void stream_same(fd_ruleset *rs, fd_scratch *s, const char *text, size_t len,
                        const fd_result *whole)
{
    fd_match *want = malloc((whole->n + 1) * sizeof *want);
    size_t nwant = 0, ngot = 0, cap = 16;
    fd_match *got = malloc(cap * sizeof *got);
    if (!want || !got)
        abort();
    for (size_t i = 0; i < whole->n; i++)
        if (whole->matches[i].action != FD_ALLOW)
            want[nwant++] = whole->matches[i];
    fd_stream *st = NULL;
    FZ_CHECK(fd_stream_open(rs, s, 1u << 16, &st) == 0, "stream open");
    fd_result part;
    fd_result_init(&part);
    size_t cuts[3] = {len / 3, len - len / 4, len}, pos = 0;
    uint64_t rel = 0;
    int blocked = 0;
    for (int k = 0; k < 4 && !blocked; k++) {
        int r = k < 3 ? fd_stream_feed(st, s, text + pos, cuts[k] - pos, &part, &rel)
                      : fd_stream_close(st, s, &part, &rel);
        FZ_CHECK(r == 0, "stream %s %d: %s", k < 3 ? "feed" : "close", k, fd_strerror(r));
        if (k < 3)
            pos = cuts[k];
        for (size_t i = 0; i < part.n; i++) {
            if (ngot == cap && !(got = realloc(got, (cap *= 2) * sizeof *got)))
                abort();
            got[ngot++] = part.matches[i];
        }
        blocked = fd_stream_blocked(st);
    }
    fd_action dec = fd_stream_decision(st);
    fd_stream_free(st);
    fd_result_free(&part);
    if (ngot)
        qsort(got, ngot, sizeof *got, cmp_match);
    if (blocked) {
        FZ_CHECK(whole->decision == FD_BLOCK, "stream blocked, scan says %d", whole->decision);
    } else {
        FZ_CHECK(dec == whole->decision, "stream decision %d, scan %d", dec, whole->decision);
        for (size_t i = 0; i < ngot && i < nwant; i++)
            FZ_CHECK(got[i].rule == want[i].rule && got[i].start == want[i].start &&
                         got[i].end == want[i].end && got[i].suppressed == want[i].suppressed,
                     "stream match %zu is %s [%u,%u)%s, scan %s [%u,%u)%s", i,
                     fd_ruleset_rule(rs, got[i].rule)->id, got[i].start, got[i].end,
                     got[i].suppressed ? "s" : "", fd_ruleset_rule(rs, want[i].rule)->id,
                     want[i].start, want[i].end, want[i].suppressed ? "s" : "");
        FZ_CHECK(ngot == nwant, "stream: %zu matches, scan %zu", ngot, nwant);
    }
    free(want);
    free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FZ_MAX_INPUT || !affordable((const char *)data, size))
        return 0;
    fd_rulelist rl;
    fd_rulelist_init(&rl);
    fz_categories(&rl, categories);
    fd_diag diag = FD_DIAG_INIT;
    int r = fd_rules_parse_file(&rl, "fuzz.rules", (const char *)data, size, &diag);
    FZ_CHECK(r == 0 || r == FD_ERULES, "parse returned %d", r);
    if (r == 0) {
        fd_ruleset *rs = NULL;
        size_t nrules = rl.nrules;
        r = fd_ruleset_compile(&rl, &rs, &diag);
        FZ_CHECK(r == 0 || r == FD_ERULES, "compile returned %d", r);
        if (r == 0) {
            FZ_CHECK(rs && rl.nrules == 0, "compile did not take the list");
            FZ_CHECK(fd_ruleset_nrules(rs) == nrules, "%zu rules, parsed %zu",
                     fd_ruleset_nrules(rs), nrules);
            if (fd_utf8_valid((const char *)data, size)) {
                fd_scratch *s = NULL;
                fd_result res;
                fd_result_init(&res);
                FZ_CHECK(fd_scratch_new(rs, &s) == 0, "scratch");
                r = fd_scan(rs, s, (const char *)data, size, &res);
                FZ_CHECK(r == 0, "scan of the rule text returned %d", r);
                for (size_t i = 0; i < res.n; i++)
                    FZ_CHECK(res.matches[i].start < res.matches[i].end &&
                                 res.matches[i].end <= size && res.matches[i].rule < nrules,
                             "bad match %zu", i);
                stream_same(rs, s, (const char *)data, size, &res);
                fd_result_free(&res);
                fd_scratch_free(s);
            }
            fd_ruleset_unref(rs);
        } else {
            FZ_CHECK(!rs && diag.n > 0, "failed compile without a diagnostic");
        }
    } else {
        FZ_CHECK(diag.n > 0, "parse error without a diagnostic");
    }
    fd_rulelist_free(&rl);
    fd_diag_free(&diag);
    return 0;
}
