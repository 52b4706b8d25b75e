/*
 * fuzz_scan — the normalizer and the scan with its offset mapping, on a
 * fixed representative rule set (fuzz_common.h). Input: a text, valid UTF-8
 * or not.
 *
 * fd_scan: FD_EUTF8 exactly for invalid texts (fd_utf8_valid agrees with a
 * strict RFC 3629 decoder here); otherwise every match has
 * start < end <= len on character boundaries, the rule's action, the
 * documented order (start, end, rule), `suppressed` exactly for block/flag
 * matches inside an allow match, and the decision is the worst unsuppressed
 * action.
 * fd_norm in both modes (also on invalid input, where each bad byte is a
 * character): map non-decreasing, inside the input, on character
 * boundaries; STRIP output never starts or ends with a break; fd_norm_both
 * and fd_norm_both_checked give exactly the two single-mode results.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "norm.h"
#include "scan.h"

static fd_ruleset *rs;
static fd_scratch *scratch;
static fd_result res;
static fd_normbuf nb[2], both[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    rs = fz_fixed_ruleset();
    if (fd_scratch_new(rs, &scratch))
        abort();
    fd_result_init(&res);
    for (int i = 0; i < 2; i++) {
        fd_normbuf_init(&nb[i]);
        fd_normbuf_init(&both[i]);
    }
    return 0;
}

static void check_norm(const char *text, size_t len, const unsigned char *b, fd_norm_mode mode,
                       const fd_normbuf *o)
{
    FZ_CHECK(o->text[o->len] == '\0', "mode %d: not NUL-terminated", mode);
    FZ_CHECK(o->len == 0 || len > 0, "mode %d: output from empty input", mode);
    for (size_t i = 0; i < o->len; i++) {
        FZ_CHECK(o->map[i] < len, "mode %d: map[%zu] = %u outside %zu bytes", mode, i, o->map[i],
                 len);
        FZ_CHECK(b[o->map[i]], "mode %d: map[%zu] = %u not on a character boundary", mode, i,
                 o->map[i]);
        FZ_CHECK(i == 0 || o->map[i] >= o->map[i - 1], "mode %d: map[%zu] = %u < map[%zu] = %u",
                 mode, i, o->map[i], i - 1, o->map[i - 1]);
    }
    if (mode == FD_NORM_STRIP_SEP && o->len)
        FZ_CHECK(o->text[0] != FD_NORM_BREAK && o->text[o->len - 1] != FD_NORM_BREAK,
                 "strip: leading or trailing break");
    (void)text;
}

static void same_norm(const fd_normbuf *a, const fd_normbuf *b, const char *what)
{
    FZ_CHECK(a->len == b->len, "%s: %zu bytes vs %zu", what, a->len, b->len);
    FZ_CHECK(memcmp(a->text, b->text, a->len) == 0, "%s: texts differ", what);
    FZ_CHECK(memcmp(a->map, b->map, a->len * sizeof *a->map) == 0, "%s: maps differ", what);
}

static void check_scan(const char *text, size_t len, const unsigned char *b)
{
    size_t nrules = fd_ruleset_nrules(rs);
    fd_action want = FD_ALLOW;
    for (size_t i = 0; i < res.n; i++) {
        const fd_match *m = &res.matches[i];
        FZ_CHECK(m->rule < nrules, "match %zu: rule %u", i, m->rule);
        const fd_rule *r = fd_ruleset_rule(rs, m->rule);
        FZ_CHECK(r->kind != FD_RULE_PART, "match %zu: an internal @all part (%s)", i, r->id);
        FZ_CHECK(m->start < m->end && m->end <= len, "match %zu (%s): [%u,%u) of %zu", i, r->id,
                 m->start, m->end, len);
        FZ_CHECK(b[m->start] && b[m->end], "match %zu (%s): [%u,%u) not on character boundaries", i,
                 r->id, m->start, m->end);
        FZ_CHECK(m->action == r->action, "match %zu (%s): action %u, rule's %u", i, r->id,
                 m->action, r->action);
        if (i) {
            const fd_match *p = &res.matches[i - 1];
            FZ_CHECK(p->start < m->start ||
                         (p->start == m->start &&
                          (p->end < m->end || (p->end == m->end && p->rule <= m->rule))),
                     "matches %zu, %zu out of order", i - 1, i);
        }
        int inside = 0;
        if (m->action != FD_ALLOW)
            for (size_t j = 0; j < res.n && !inside; j++)
                inside = res.matches[j].action == FD_ALLOW && res.matches[j].start <= m->start &&
                         m->end <= res.matches[j].end;
        FZ_CHECK(m->suppressed == inside, "match %zu (%s) [%u,%u): suppressed %u, inside %d", i,
                 r->id, m->start, m->end, m->suppressed, inside);
        if (!m->suppressed && m->action > want)
            want = (fd_action)m->action;
    }
    if (!res.dropped)
        FZ_CHECK(res.decision == want, "decision %d, matches say %d", res.decision, want);
    (void)text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    const char *text = (const char *)data;
    unsigned char *b = malloc(size + 1);
    if (!b)
        abort();
    int valid = fz_boundaries(text, size, b);
    FZ_CHECK(fd_utf8_valid(text, size) == valid, "fd_utf8_valid says %d, strict decoder %d",
             fd_utf8_valid(text, size), valid);
    size_t first_bad = 0;
    while (first_bad < size && fz_seq_len(data, size, first_bad))
        first_bad += fz_seq_len(data, size, first_bad);
    FZ_CHECK(fd_utf8_check(text, size) == first_bad, "fd_utf8_check %zu, strict decoder %zu",
             fd_utf8_check(text, size), first_bad);

    int r = fd_scan(rs, scratch, text, size, &res);
    if (valid) {
        FZ_CHECK(r == 0, "scan of valid UTF-8 returned %d (%s)", r, fd_strerror(r));
        check_scan(text, size, b);
    } else {
        FZ_CHECK(r == FD_EUTF8 && res.n == 0, "scan of invalid UTF-8 returned %d, %zu matches", r,
                 res.n);
    }

    for (int mode = 0; mode < 2; mode++) {
        r = fd_norm(text, size, (fd_norm_mode)mode, &nb[mode]);
        FZ_CHECK(r == 0, "fd_norm mode %d returned %d", mode, r);
        check_norm(text, size, b, (fd_norm_mode)mode, &nb[mode]);
    }
    r = fd_norm_both(text, size, &both[0], &both[1]);
    FZ_CHECK(r == 0, "fd_norm_both returned %d", r);
    same_norm(&both[0], &nb[0], "fd_norm_both keep");
    same_norm(&both[1], &nb[1], "fd_norm_both strip");
    r = fd_norm_both_checked(text, size, &both[0], &both[1]);
    if (valid) {
        FZ_CHECK(r == 0, "fd_norm_both_checked returned %d on valid UTF-8", r);
        same_norm(&both[0], &nb[0], "fd_norm_both_checked keep");
        same_norm(&both[1], &nb[1], "fd_norm_both_checked strip");
    } else {
        FZ_CHECK(r == FD_EUTF8 && both[0].len == 0 && both[1].len == 0,
                 "fd_norm_both_checked returned %d on invalid UTF-8", r);
    }
    free(b);
    return 0;
}
