/*
 * ruletest.c — "*.tests" files: parse, run against a compiled rule set,
 * report failures as FILE:LINE (format and semantics in ruletest.h).
 *
 * Tests go through the same fd_scan() as the daemon, so a passing case
 * means exactly that the daemon would give that decision for that text.
 */
#include "ruletest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan.h"
#include "utf8.h"

/* Limits of one failure report: enough to see why, short enough for a
 * terminal line (fd_diag_add() truncates a message at 1 KiB anyway). */
#define RT_MAX_LISTED 6  /* matches listed per failure */
#define RT_EXCERPT    48 /* bytes of matched text per match */

void fd_testlist_init(fd_testlist *tl)
{
    memset(tl, 0, sizeof *tl);
}

void fd_testlist_free(fd_testlist *tl)
{
    for (size_t i = 0; i < tl->n; i++) {
        free(tl->cases[i].category);
        free(tl->cases[i].text);
    }
    free(tl->cases);
    free(tl->file);
    fd_testlist_init(tl);
}

/* ---- parsing ---- */

/*
 * Parse EXPECT (L bytes, already trimmed) into *ACT and a malloc'd *CAT
 * (NULL when no ":CATEGORY"). Returns 0, 1 when malformed, or FD_ENOMEM.
 */
static int parse_expect(const char *s, size_t l, fd_action *act, char **cat)
{
    *cat = NULL;
    const char *colon = memchr(s, ':', l);
    size_t wl = colon ? (size_t)(colon - s) : l;
    if (wl == 5 && memcmp(s, "allow", 5) == 0 && !colon)
        *act = FD_ALLOW;
    else if (wl == 4 && memcmp(s, "flag", 4) == 0)
        *act = FD_FLAG;
    else if (wl == 5 && memcmp(s, "block", 5) == 0)
        *act = FD_BLOCK;
    else
        return 1;
    if (colon) {
        size_t cl = l - wl - 1;
        if (cl == 0)
            return 1;
        for (size_t i = 0; i < cl; i++)
            if ((unsigned char)colon[1 + i] <= ' ')
                return 1;
        if (!(*cat = strndup(colon + 1, cl)))
            return FD_ENOMEM;
    }
    return 0;
}

/*
 * Resolve the escapes of TEXT (L bytes) into a malloc'd, NUL-terminated
 * *OUT of *OLEN bytes. Returns 0, FD_ENOMEM, or 1 with *BAD set to the
 * offending character when an unknown escape (or a lone trailing
 * backslash, BAD = '\0') is found.
 */
static int unescape(const char *s, size_t l, char **out, size_t *olen, char *bad)
{
    char *o = malloc(l + 1);
    if (!o)
        return FD_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < l; i++) {
        if (s[i] != '\\') {
            o[n++] = s[i];
            continue;
        }
        if (++i == l) {
            *bad = '\0';
            free(o);
            return 1;
        }
        switch (s[i]) {
        case 'n':
            o[n++] = '\n';
            break;
        case 't':
            o[n++] = '\t';
            break;
        case '\\':
            o[n++] = '\\';
            break;
        default:
            *bad = s[i];
            free(o);
            return 1;
        }
    }
    o[n] = '\0';
    *out = o;
    *olen = n;
    return 0;
}

static int push_case(fd_testlist *tl, const fd_testcase *tc)
{
    if (tl->n == tl->cap) {
        size_t cap = tl->cap ? tl->cap * 2 : 32;
        fd_testcase *v = realloc(tl->cases, cap * sizeof *v);
        if (!v)
            return FD_ENOMEM;
        tl->cases = v;
        tl->cap = cap;
    }
    tl->cases[tl->n++] = *tc;
    return 0;
}

/*
 * Parse one line (without its newline) numbered LINENO. Appends a case, or
 * reports the line as malformed and returns FD_ERULES, or returns 0 for a
 * blank or comment line.
 */
static int parse_line(fd_testlist *tl, const char *fname, unsigned lineno, const char *s, size_t l,
                      fd_diag *diag)
{
    if (l && s[l - 1] == '\r')
        l--;
    size_t i = 0;
    while (i < l && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i == l || s[i] == '#')
        return 0;
    const char *tab = memchr(s + i, '\t', l - i);
    if (!tab) {
        fd_diag_add(diag, fname, lineno, "expected EXPECT<TAB>TEXT");
        return FD_ERULES;
    }
    size_t el = (size_t)(tab - (s + i));
    while (el && s[i + el - 1] == ' ')
        el--;
    fd_testcase tc = {.line = lineno};
    int r = parse_expect(s + i, el, &tc.expect, &tc.category);
    if (r == FD_ENOMEM)
        return r;
    if (r) {
        fd_diag_add(diag, fname, lineno,
                    "unknown expectation '%.*s' (allow, flag, block, flag:CATEGORY or "
                    "block:CATEGORY)",
                    (int)(el > 64 ? 64 : el), s + i);
        return FD_ERULES;
    }
    const char *t = tab;
    while (t < s + l && *t == '\t')
        t++;
    char bad = 0;
    r = unescape(t, (size_t)(s + l - t), &tc.text, &tc.len, &bad);
    if (r == 0 && tc.len == 0) {
        free(tc.text);
        fd_diag_add(diag, fname, lineno, "empty text");
        r = 1;
    } else if (r == 0 && !fd_utf8_valid(tc.text, tc.len)) {
        free(tc.text);
        fd_diag_add(diag, fname, lineno, "text is not valid UTF-8");
        r = 1;
    } else if (r == 1) {
        if (bad)
            fd_diag_add(diag, fname, lineno, "unknown escape '\\%c' (only \\n, \\t and \\\\)", bad);
        else
            fd_diag_add(diag, fname, lineno, "backslash at end of line (write \\\\)");
    }
    if (r) {
        free(tc.category);
        return r == FD_ENOMEM ? r : FD_ERULES;
    }
    if (push_case(tl, &tc)) {
        free(tc.category);
        free(tc.text);
        return FD_ENOMEM;
    }
    return 0;
}

int fd_ruletest_parse(const char *fname, const char *buf, size_t len, fd_testlist *tl,
                      fd_diag *diag)
{
    fd_testlist_free(tl);
    if (!(tl->file = strdup(fname)))
        return FD_ENOMEM;
    int err = 0;
    unsigned lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - s) : len - pos;
        pos += l + (nl != NULL);
        int r = parse_line(tl, fname, ++lineno, s, l, diag);
        if (r == FD_ENOMEM)
            return r;
        if (r)
            err = r;
    }
    return err;
}

/* ---- running ---- */

/* Append to P (room for CAP bytes) a quoted excerpt of TEXT[S, E): at most
 * RT_EXCERPT bytes, cut on a character boundary, control characters and
 * quotes escaped so a report stays one line. Returns bytes written. */
static size_t excerpt(char *p, size_t cap, const char *text, size_t s, size_t e)
{
    size_t o = 0;
    size_t lim = e - s > RT_EXCERPT ? s + RT_EXCERPT : e;
    while (lim > s && lim < e && ((unsigned char)text[lim] & 0xC0) == 0x80)
        lim--;
    if (o + 1 < cap)
        p[o++] = '"';
    for (size_t i = s; i < lim && o + 4 < cap; i++) {
        char c = text[i];
        if (c == '\n' || c == '\t' || c == '"' || c == '\\') {
            p[o++] = '\\';
            p[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : c;
        } else if ((unsigned char)c < 0x20) {
            p[o++] = '?';
        } else {
            p[o++] = c;
        }
    }
    if (lim < e && o + 4 < cap) {
        memcpy(p + o, "\xE2\x80\xA6", 3); /* … */
        o += 3;
    }
    if (o + 1 < cap)
        p[o++] = '"';
    p[o < cap ? o : cap - 1] = '\0';
    return o;
}

/*
 * Whether a result satisfies case TC whose category (if any) has index
 * CAT in the rule set.
 */
static int case_passes(const fd_ruleset *rs, const fd_testcase *tc, int cat, const fd_result *res)
{
    if (res->decision != tc->expect)
        return 0;
    if (!tc->category)
        return 1;
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (m->suppressed || m->action != (uint8_t)tc->expect)
            continue;
        if ((int)fd_ruleset_rule(rs, m->rule)->category == cat)
            return 1;
    }
    return 0;
}

/* Report a failing case: what was expected, what came, and the matches. */
static void report(const fd_ruleset *rs, const char *fname, const fd_testcase *tc,
                   const fd_result *res, fd_diag *diag)
{
    char got[1024];
    size_t o = 0;
    size_t listed = 0;
    for (size_t i = 0; i < res->n && o + 80 < sizeof got; i++) {
        if (listed == RT_MAX_LISTED) {
            o += (size_t)snprintf(got + o, sizeof got - o, " \xE2\x80\xA6 (%zu more)", res->n - i);
            break;
        }
        const fd_match *m = &res->matches[i];
        const fd_rule *r = fd_ruleset_rule(rs, m->rule);
        const char *cat = fd_ruleset_category(rs, r->category)->id;
        const char *note = m->action == FD_ALLOW ? " allow" : m->suppressed ? " suppressed" : "";
        int w =
            snprintf(got + o, sizeof got - o, "%s%s[%s%s] ", listed ? ", " : "", r->id, cat, note);
        if (w < 0 || (size_t)w >= sizeof got - o)
            break;
        o += (size_t)w;
        o += excerpt(got + o, sizeof got - o, tc->text, m->start, m->end);
        listed++;
    }
    got[o < sizeof got ? o : sizeof got - 1] = '\0';
    const char *dec = fd_action_name(res->decision);
    if (tc->category)
        fd_diag_add(diag, fname, tc->line, "expected %s:%s, got %s (%s%s)",
                    fd_action_name(tc->expect), tc->category, dec,
                    res->n ? "matches: " : "no matches", got);
    else
        fd_diag_add(diag, fname, tc->line, "expected %s, got %s (%s%s)", fd_action_name(tc->expect),
                    dec, res->n ? "matches: " : "no matches", got);
}

int fd_ruletest_run(const fd_ruleset *rs, const fd_testlist *tl, fd_diag *diag, size_t *ncases,
                    size_t *nfailed)
{
    if (!rs || !tl || !ncases || !nfailed)
        return FD_EINVAL;
    if (tl->n == 0)
        return 0;
    const char *fname = tl->file ? tl->file : "(tests)";
    fd_scratch *s = NULL;
    int err = fd_scratch_new(rs, &s);
    if (err)
        return err;
    fd_result res;
    fd_result_init(&res);
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    for (size_t i = 0; i < tl->n; i++) {
        const fd_testcase *tc = &tl->cases[i];
        int cat = -1;
        ++*ncases;
        if (tc->category && (cat = fd_rules_find_category(rl, tc->category)) < 0) {
            fd_diag_add(diag, fname, tc->line, "unknown category '%s'", tc->category);
            ++*nfailed;
            err = FD_ERULES;
            continue;
        }
        int r = fd_scan(rs, s, tc->text, tc->len, &res);
        if (r) {
            /* Texts were validated when parsed: this is memory or Hyperscan. */
            fd_diag_add(diag, fname, tc->line, "scan failed: %s", fd_strerror(r));
            ++*nfailed;
            err = r;
            break;
        }
        if (!case_passes(rs, tc, cat, &res)) {
            report(rs, fname, tc, &res, diag);
            ++*nfailed;
        }
    }
    fd_result_free(&res);
    fd_scratch_free(s);
    return err;
}

int fd_ruletest_run_buf(const fd_ruleset *rs, const char *fname, const char *buf, size_t len,
                        fd_diag *diag, size_t *ncases, size_t *nfailed)
{
    *ncases = *nfailed = 0;
    fd_testlist tl;
    fd_testlist_init(&tl);
    int perr = fd_ruletest_parse(fname, buf, len, &tl, diag);
    int rerr = perr == FD_ENOMEM ? 0 : fd_ruletest_run(rs, &tl, diag, ncases, nfailed);
    fd_testlist_free(&tl);
    /* The more serious error wins: resources over malformed input. */
    if (rerr && rerr != FD_ERULES)
        return rerr;
    return perr ? perr : rerr;
}

/* ---- directories ---- */

int fd_ruletest_run_dir(const fd_ruleset *rs, const char *dir, fd_diag *diag, size_t *nfiles,
                        size_t *ncases, size_t *nfailed)
{
    if (!rs || !dir || !ncases || !nfailed)
        return FD_EINVAL;
    *ncases = *nfailed = 0;
    if (nfiles)
        *nfiles = 0;
    /* The same walk as the rule loader's: a test is found exactly where a
     * rule file would be. */
    char **paths = NULL;
    size_t npaths = 0;
    int err = fd_rules_find_files(dir, ".tests", &paths, &npaths, diag);
    if (err == FD_ENOMEM || (err == FD_EIO && npaths == 0)) {
        fd_rules_free_paths(paths, npaths);
        return err;
    }
    for (size_t i = 0; i < npaths; i++) {
        char *buf = NULL;
        size_t len = 0;
        int r = fd_rules_read_file(dir, paths[i], &buf, &len, diag);
        if (r == 0) {
            size_t c = 0, f = 0;
            r = fd_ruletest_run_buf(rs, paths[i], buf, len, diag, &c, &f);
            free(buf);
            *ncases += c;
            *nfailed += f;
            if (nfiles)
                ++*nfiles;
        }
        if (r == FD_ENOMEM || r == FD_EHS) {
            err = r;
            break;
        }
        /* Keep the first error, but an I/O error outranks malformed lines. */
        if (r && (!err || (r == FD_EIO && err == FD_ERULES)))
            err = r;
    }
    fd_rules_free_paths(paths, npaths);
    return err;
}
