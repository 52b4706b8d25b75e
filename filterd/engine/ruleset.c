/*
 * ruleset.c — compile a rule list into Hyperscan databases.
 *
 * All rules that scan the same buffer go into one database, whatever their
 * category or action: one pass over the text finds every match. Regexes that
 * Hyperscan cannot run exactly (back-references, look-around) are compiled
 * with HS_FLAG_PREFILTER, so Hyperscan only nominates candidates, and are
 * confirmed with PCRE2 at scan time.
 */
#include "cache.h"
#include "norm.h"
#include "ruleset_int.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* PCRE2 limits for confirming prefiltered regexes: a hostile text must not
 * make one request take seconds (catastrophic backtracking). */
#define FD_PCRE2_MATCH_LIMIT 1000000u
#define FD_PCRE2_DEPTH_LIMIT 10000u

/* hs_version() is "5.4.9 2023-…" style text, sometimes with trailing
 * blanks; callers print it, so it is trimmed once. */
static char hs_version_buf[64];

static void hs_version_init(void)
{
    snprintf(hs_version_buf, sizeof hs_version_buf, "%s", hs_version());
    size_t n = strlen(hs_version_buf);
    while (n && hs_version_buf[n - 1] == ' ')
        hs_version_buf[--n] = '\0';
}

const char *fd_hs_version(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT; /* workers ask too (stats) */
    pthread_once(&once, hs_version_init);
    return hs_version_buf;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static enum fd_buf buf_of(const fd_rule *r)
{
    if (r->view == FD_VIEW_RAW)
        return FD_BUF_RAW;
    /* Literals of both normalized views scan the stripped text; `word`
     * boundaries come from its gap flags (scan.c). */
    if ((r->view == FD_VIEW_NORMALIZED || r->view == FD_VIEW_WORD) && !r->regex)
        return FD_BUF_STRIP;
    return FD_BUF_KEEP;
}

/* All parts of an @all rule scan one buffer, so that their offsets can be
 * compared: the stripped text only if every part is a normalized literal. */
static enum fd_buf combo_buf(const fd_rulelist *rl, size_t c, size_t *nparts)
{
    enum fd_buf b = FD_BUF_STRIP;
    size_t k = c + 1;
    for (; k < rl->nrules && rl->rules[k].kind == FD_RULE_PART && rl->rules[k].combo == c; k++) {
        enum fd_buf pb = buf_of(&rl->rules[k]);
        if (pb == FD_BUF_RAW)
            b = FD_BUF_RAW;
        else if (pb == FD_BUF_KEEP && b != FD_BUF_RAW)
            b = FD_BUF_KEEP;
    }
    *nparts = k - c - 1;
    return b;
}

/* A literal as a Hyperscan expression: every byte hex-escaped, so no byte
 * is ever read as regex syntax. Without HS_FLAG_UTF8, \xNN is a byte. */
static char *literal_expr(const char *s, size_t l)
{
    static const char hex[] = "0123456789abcdef";
    char *e = malloc(4 * l + 1), *p = e;
    if (!e)
        return NULL;
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char)s[i];
        *p++ = '\\';
        *p++ = 'x';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 15];
    }
    *p = '\0';
    return e;
}

/* Whether a regex source has an upper-case ASCII letter outside escapes
 * (\B, \W, \x{4E00}, \p{Han} … are not letters of the text). */
static int has_upper(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\') {
            i++;
            if (i < n && (p[i] == 'x' || p[i] == 'p' || p[i] == 'P') && i + 1 < n &&
                p[i + 1] == '{')
                while (i < n && p[i] != '}')
                    i++;
            continue;
        }
        if (p[i] >= 'A' && p[i] <= 'Z')
            return 1;
    }
    return 0;
}

/*
 * Hyperscan flags of a rule. Regexes are compiled without start of match
 * and without Unicode classes (HS_FLAG_UCP): both double or quadruple the
 * compile time and the database size, and neither is needed. Hyperscan only
 * says which regexes occur; PCRE2, with the same ASCII semantics for \w \b
 * \d \s, then finds their exact spans (regex hits are rare, their
 * confirmation cheap). Normalized text is case-folded, so a normalized
 * regex is case-insensitive only if it needs to be (/i or an upper-case
 * letter in it): caseless Unicode matching costs compile time too.
 */
static unsigned hs_flags_of(const fd_rule *r, enum fd_buf b)
{
    if (!r->regex)
        return 0; /* normalized literals meet normalized (case-folded) text */
    unsigned f = HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH;
    if ((r->rx_flags & FD_RX_CASELESS) ||
        (b != FD_BUF_RAW && has_upper(r->pattern, r->pattern_len)))
        f |= HS_FLAG_CASELESS;
    if (r->rx_flags & FD_RX_DOTALL)
        f |= HS_FLAG_DOTALL;
    if (r->rx_flags & FD_RX_MULTILINE)
        f |= HS_FLAG_MULTILINE;
    return f;
}

/* Compile the exact regex of a prefiltered rule with PCRE2 (JIT). Also
 * rejects a regex that can match the empty string. */
static int compile_pcre2(fd_rinfo *ri, const fd_rule *r, const char *fname, fd_diag *diag)
{
    uint32_t opts = PCRE2_UTF | PCRE2_NO_UTF_CHECK;
    if (r->rx_flags & FD_RX_CASELESS)
        opts |= PCRE2_CASELESS;
    if (r->rx_flags & FD_RX_DOTALL)
        opts |= PCRE2_DOTALL;
    if (r->rx_flags & FD_RX_MULTILINE)
        opts |= PCRE2_MULTILINE;
    if (r->view != FD_VIEW_RAW && has_upper(r->pattern, r->pattern_len))
        opts |= PCRE2_CASELESS;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)r->pattern, r->pattern_len, opts, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        fd_diag_add(diag, fname, r->line, "bad regex: %s at offset %zu", (char *)msg, (size_t)eo);
        return FD_ERULES;
    }
    uint32_t minlen = 0;
    pcre2_pattern_info(re, PCRE2_INFO_MINLENGTH, &minlen);
    if (minlen == 0) {
        /* MINLENGTH is a lower bound; 0 means it may match the empty string. */
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        int rc = md ? pcre2_match(re, (PCRE2_SPTR) "", 0, 0, 0, md, NULL) : -1;
        pcre2_match_data_free(md);
        if (rc >= 0) {
            fd_diag_add(diag, fname, r->line, "pattern matches the empty string");
            pcre2_code_free(re);
            return FD_ERULES;
        }
    }
    /* Streams keep this much text before a match for PCRE2 to look at. */
    uint32_t lb = 0;
    pcre2_pattern_info(re, PCRE2_INFO_MAXLOOKBEHIND, &lb);
    ri->lookbehind = lb;
    /* Streams confirm with partial matching (see stream.c); without JIT
     * PCRE2 falls back to its interpreter. */
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD);
    ri->re = re;
    return 0;
}

/*
 * Check one regex and decide how it runs: exactly in Hyperscan (with
 * leftmost start of match), or prefiltered and confirmed by PCRE2. A regex
 * that matches the empty string, or that neither engine accepts, is an error.
 */
static int classify_regex(fd_rinfo *ri, const fd_rule *r, unsigned *flags, const char *fname,
                          fd_diag *diag)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    unsigned f = *flags;
    if (hs_expression_info(r->pattern, f, &info, &ce) != HS_SUCCESS) {
        /* Not exact in Hyperscan (back-references, look-around): it only
         * prefilters, and PCRE2 decides as for every regex. */
        char hsmsg[256];
        snprintf(hsmsg, sizeof hsmsg, "%s", ce->message);
        hs_free_compile_error(ce);
        f |= HS_FLAG_PREFILTER;
        if (hs_expression_info(r->pattern, f, &info, &ce) != HS_SUCCESS) {
            hs_free_compile_error(ce);
            /* Let PCRE2 word the error if it also rejects the regex. */
            if (compile_pcre2(ri, r, fname, diag))
                return FD_ERULES;
            pcre2_code_free(ri->re);
            ri->re = NULL;
            fd_diag_add(diag, fname, r->line, "regex not supported: %s", hsmsg);
            return FD_ERULES;
        }
    }
    int empty = info->min_width == 0;
    ri->width = info->max_width == UINT_MAX ? FD_WIDTH_UNBOUNDED : info->max_width;
    free(info);
    if (empty) {
        /* Hyperscan cannot scan for a match (or candidate) that may be empty. */
        fd_diag_add(diag, fname, r->line, "pattern matches the empty string");
        return FD_ERULES;
    }
    if (compile_pcre2(ri, r, fname, diag))
        return FD_ERULES;
    ri->flags |= FD_RI_PREFILTER;
    *flags = f;
    return 0;
}

/* The expressions of one database, parallel arrays for hs_compile_multi. */
typedef struct exprs {
    char **expr;
    unsigned *flags;
    unsigned *ids;
    char **lit;   /* literals: the bytes themselves (NULL for a regex) */
    size_t *lens; /* and their lengths */
    size_t n;
    size_t nregex;
} exprs;

static void exprs_free(exprs *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->expr[i]);
        if (e->lit)
            free(e->lit[i]);
    }
    free(e->expr);
    free(e->flags);
    free(e->ids);
    free(e->lit);
    free(e->lens);
}

/* One database of the buffer's expressions in MODE. A database of literals
 * only (the normalized view's keyword lists, 10k-100k of them) goes through
 * Hyperscan's literal API, which compiles them several times faster than
 * the same literals as hex-escaped regexes. */
static hs_error_t hs_build(const exprs *e, const unsigned *flags, unsigned mode, hs_database_t **db,
                           hs_compile_error_t **ce)
{
    if (e->nregex == 0)
        return hs_compile_lit_multi((const char *const *)e->lit, flags, e->ids, e->lens,
                                    (unsigned)e->n, mode, NULL, db, ce);
    return hs_compile_multi((const char *const *)e->expr, flags, e->ids, (unsigned)e->n, mode, NULL,
                            db, ce);
}

/* Prefiltered regexes stop at their first candidate in a block scan, but
 * a stream must hear of candidates in every chunk. */
static void stream_flags(const exprs *e, unsigned *out)
{
    for (size_t i = 0; i < e->n; i++)
        out[i] = e->flags[i] & ~(unsigned)HS_FLAG_SINGLEMATCH;
}

/* Why a compile failed: the expression Hyperscan names (-1: none) and its
 * message, copied out of Hyperscan's error (or received from the child). */
typedef struct compile_err {
    int expression;
    char message[256];
} compile_err;

static void take_error(hs_compile_error_t *ce, compile_err *out)
{
    out->expression = ce ? ce->expression : -1;
    snprintf(out->message, sizeof out->message, "%s", ce ? ce->message : "unknown error");
    hs_free_compile_error(ce);
}

/*
 * The block-mode and then the stream-mode database, one after the other:
 * Hyperscan's compiler needs several times the size of the database it
 * builds, and two compiles at once (as on two threads) need the sum. The
 * memory each leaves in malloc's arenas is handed back between them.
 */
static int build_pair(const exprs *e, const unsigned *sflags, hs_database_t **db,
                      hs_database_t **sdb, compile_err *err)
{
    hs_compile_error_t *ce = NULL;
    *db = *sdb = NULL;
    if (hs_build(e, e->flags, HS_MODE_BLOCK, db, &ce) != HS_SUCCESS) {
        take_error(ce, err);
        return -1;
    }
    malloc_trim(0);
    if (hs_build(e, sflags, HS_MODE_STREAM, sdb, &ce) != HS_SUCCESS) {
        take_error(ce, err);
        hs_free_database(*db);
        *db = NULL;
        return -1;
    }
    malloc_trim(0);
    return 0;
}

/*
 * Compiling in a child process. A daemon that compiled a large rule set in
 * its own address space keeps the compiler's peak as fragmented arena
 * memory, and a reload adds another compile's peak on top of the rule set
 * in use. A forked child compiles instead and sends the serialized
 * databases through a pipe; the daemon only ever holds the databases.
 *
 * The wire: per database (block, then stream) a record {int32 status
 * (0 ok, 1 compile error), int32 expression, uint64 length} and LENGTH
 * bytes: the serialized database, or the error message.
 */
typedef struct wire_rec {
    int32_t status;
    int32_t expression;
    uint64_t len;
} wire_rec;

static int write_full(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_full(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* In the child: compile, send, exit without running anything else of the
 * parent's (no atexit handlers, no stdio flush). */
static void child_compile(int fd, const exprs *e, const unsigned *sflags)
{
    for (int mode = 0; mode < 2; mode++) {
        hs_database_t *db = NULL;
        hs_compile_error_t *ce = NULL;
        wire_rec rec = {0, -1, 0};
        if (hs_build(e, mode ? sflags : e->flags, mode ? HS_MODE_STREAM : HS_MODE_BLOCK, &db,
                     &ce) != HS_SUCCESS) {
            compile_err ce2;
            take_error(ce, &ce2);
            rec = (wire_rec){1, ce2.expression, strlen(ce2.message)};
            if (write_full(fd, &rec, sizeof rec) == 0)
                write_full(fd, ce2.message, rec.len);
            _exit(0);
        }
        char *bytes = NULL;
        size_t len = 0;
        if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
            _exit(1);
        hs_free_database(db);
        rec.len = len;
        if (write_full(fd, &rec, sizeof rec) || write_full(fd, bytes, len))
            _exit(1);
        free(bytes);
    }
    _exit(0);
}

/* Read one record into a database (or ERR); -1 when the child failed. */
static int read_db(int fd, hs_database_t **db, compile_err *err, int *failed)
{
    wire_rec rec;
    if (read_full(fd, &rec, sizeof rec) || rec.len > (uint64_t)1 << 40)
        return -1;
    char *buf = malloc(rec.len + 1);
    if (!buf || read_full(fd, buf, rec.len)) {
        free(buf);
        return -1;
    }
    int r = 0;
    if (rec.status == 1) {
        err->expression = rec.expression;
        buf[rec.len] = '\0';
        snprintf(err->message, sizeof err->message, "%s", buf);
        *failed = 1;
    } else if (hs_deserialize_database(buf, rec.len, db) != HS_SUCCESS) {
        r = -1;
    }
    free(buf);
    return r;
}

/* build_pair() in a child process. Returns 0 (both built), -1 with ERR
 * (a compile error), or 1 when the child could not do it (no fork, the
 * child died): the caller then compiles in process. */
static int build_pair_isolated(const exprs *e, const unsigned *sflags, hs_database_t **db,
                               hs_database_t **sdb, compile_err *err)
{
    int fds[2];
    *db = *sdb = NULL;
    if (pipe(fds))
        return 1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return 1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_compile(fds[1], e, sflags);
    }
    close(fds[1]);
    int failed = 0, bad = read_db(fds[0], db, err, &failed);
    if (!bad && !failed)
        bad = read_db(fds[0], sdb, err, &failed);
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (bad || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        hs_free_database(*db);
        hs_free_database(*sdb);
        *db = *sdb = NULL;
        return 1;
    }
    if (failed) {
        hs_free_database(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

/*
 * Compile the block-mode and the stream-mode database of one buffer (in a
 * child process when it has ISOLATE_MIN expressions or more). If
 * Hyperscan rejects a regex only in the combined compile (start of match
 * on a pattern too large for it), that regex falls back to the prefilter
 * path and the compile is retried.
 */
static int compile_db(fd_ruleset *rs, exprs *e, enum fd_buf b, size_t isolate_min, fd_diag *diag)
{
    unsigned *sflags = malloc(e->n * sizeof *sflags);
    if (!sflags)
        return FD_ENOMEM;
    int rc = FD_ERULES;
    for (int attempt = 0; attempt < 64; attempt++) {
        hs_database_t *db = NULL, *sdb = NULL;
        compile_err ce = {-1, ""};
        stream_flags(e, sflags);
        int built = 1;
        if (e->n >= isolate_min)
            built = build_pair_isolated(e, sflags, &db, &sdb, &ce);
        if (built == 1)
            built = build_pair(e, sflags, &db, &sdb, &ce);
        if (built == 0) {
            rs->db[b] = db;
            rs->sdb[b] = sdb;
            size_t sz = 0;
            if (hs_database_size(db, &sz) == HS_SUCCESS)
                rs->db_bytes += sz;
            if (hs_database_size(sdb, &sz) == HS_SUCCESS)
                rs->db_bytes += sz;
            rc = 0;
            break;
        }
        int k = ce.expression;
        if (k >= 0 && (size_t)k < e->n) {
            uint32_t ridx = e->ids[k];
            const fd_rule *r = &rs->rl.rules[ridx];
            const char *fname = rs->rl.files[r->file];
            if (r->regex && !(e->flags[k] & HS_FLAG_PREFILTER)) {
                /* Too large to run exactly in the combined database:
                 * Hyperscan may approximate it, PCRE2 confirms anyway. */
                e->flags[k] |= HS_FLAG_PREFILTER;
                continue;
            }
            if (strstr(ce.message, "empty buffer"))
                fd_diag_add(diag, fname, r->line, "pattern matches the empty string");
            else
                fd_diag_add(diag, fname, r->line, "cannot compile: %s", ce.message);
        } else {
            fd_diag_add(diag, NULL, 0, "Hyperscan compile failed (%s buffer): %s",
                        b == FD_BUF_RAW    ? "raw"
                        : b == FD_BUF_KEEP ? "word/regex"
                                           : "normalized",
                        ce.message);
        }
        break;
    }
    free(sflags);
    return rc;
}

typedef struct contain_ctx {
    fd_ruleset *rs;
    enum fd_buf b;    /* the buffer scanned */
    enum fd_buf abuf; /* the allow rule's buffer */
    uint32_t width;   /* the allow rule's width */
} contain_ctx;

static int on_contained(unsigned int id, unsigned long long from, unsigned long long to,
                        unsigned int flags, void *ctx)
{
    (void)from, (void)to, (void)flags;
    contain_ctx *c = ctx;
    fd_rinfo *ri = &c->rs->ri[id];
    if (ri->action != FD_ALLOW && !(ri->flags & FD_RI_PART) && ri->allow_w[c->abuf] < c->width)
        ri->allow_w[c->abuf] = c->width;
    return 0;
}

/*
 * Which allow rules could suppress which block/flag rules, for streams: an
 * allow literal can only contain a match of a rule that matches somewhere in
 * the allow's own text, so its text (as each buffer sees it) is scanned with
 * that buffer's database. An allow regex could contain anything. Matching
 * without the surrounding text only finds more (boundaries and look-arounds
 * see the edges as the edges of the data), so the answer errs on the safe
 * side: a match is never called final while an allow could still hide it.
 */
static int analyse_allows(fd_ruleset *rs)
{
    const fd_rulelist *rl = &rs->rl;
    hs_scratch_t *scratch = NULL;
    for (int b = 0; b < FD_BUF_MAX; b++)
        if (rs->db[b] && hs_alloc_scratch(rs->db[b], &scratch) != HS_SUCCESS) {
            hs_free_scratch(scratch);
            return FD_ENOMEM;
        }
    fd_normbuf nb;
    fd_normbuf_init(&nb);
    int err = 0;
    for (size_t a = 0; a < rl->nrules && !err; a++) {
        const fd_rule *r = &rl->rules[a];
        const fd_rinfo *ai = &rs->ri[a];
        if (r->action != FD_ALLOW || r->kind != FD_RULE_PATTERN)
            continue;
        enum fd_buf abuf = (enum fd_buf)ai->buf;
        if (r->regex) {
            for (size_t i = 0; i < rl->nrules; i++)
                if (rs->ri[i].action != FD_ALLOW && rs->ri[i].allow_w[abuf] < ai->width)
                    rs->ri[i].allow_w[abuf] = ai->width;
            continue;
        }
        for (int b = 0; b < FD_BUF_MAX; b++) {
            if (!rs->db[b])
                continue;
            const char *t = r->pattern;
            size_t l = r->pattern_len;
            if (b != FD_BUF_RAW) {
                if ((err = fd_norm(r->pattern, r->pattern_len,
                                   b == FD_BUF_STRIP ? FD_NORM_STRIP_SEP : FD_NORM_KEEP_SEP, &nb)))
                    break;
                t = nb.text;
                l = nb.len;
            }
            contain_ctx c = {rs, (enum fd_buf)b, abuf, ai->width};
            if (hs_scan(rs->db[b], t, (unsigned)l, 0, scratch, on_contained, &c) != HS_SUCCESS) {
                err = FD_EHS;
                break;
            }
        }
    }
    fd_normbuf_free(&nb);
    hs_free_scratch(scratch);
    /* An @all rule has no text of its own to look for in an allow: any
     * allow could contain its span. */
    uint32_t any[FD_BUF_MAX] = {0};
    for (size_t a = 0; a < rl->nrules; a++)
        if (rl->rules[a].action == FD_ALLOW && rs->ri[a].width > any[rs->ri[a].buf])
            any[rs->ri[a].buf] = rs->ri[a].width;
    for (size_t i = 0; i < rl->nrules; i++)
        if (rs->ri[i].flags & FD_RI_COMBO)
            memcpy(rs->ri[i].allow_w, any, sizeof any);
    return err;
}

/*
 * What streams need to hold back only what the text so far could still
 * need (holdback.h): per buffer, the automaton over its literals (as its
 * database has them, normalized) and its regexes joined for partial
 * matching.
 */
static int build_holdback(fd_ruleset *rs, const exprs *ex)
{
    int err = 0;
    for (int b = 0; b < FD_BUF_MAX && !err; b++) {
        const exprs *e = &ex[b];
        if (!e->n)
            continue;
        fd_hb_lit *lit = malloc(e->n * sizeof *lit);
        fd_hb_rx *rx = malloc(e->n * sizeof *rx);
        uint32_t *rx_rule = malloc(e->n * sizeof *rx_rule);
        size_t nl = 0, nr = 0;
        if (!lit || !rx || !rx_rule)
            err = FD_ENOMEM;
        for (size_t i = 0; i < e->n && !err; i++) {
            const fd_rule *r = &rs->rl.rules[e->ids[i]];
            const fd_rinfo *ri = &rs->ri[e->ids[i]];
            uint8_t allow = r->action == FD_ALLOW;
            if (e->lit[i])
                lit[nl++] = (fd_hb_lit){e->lit[i], (uint32_t)e->lens[i], allow, 0};
            else {
                rx_rule[nr] = e->ids[i];
                rx[nr++] = (fd_hb_rx){r->pattern, r->pattern_len, ri->re, ri->width, allow, 0};
            }
        }
        if (!err)
            err = fd__hb_build(&rs->hb[b], lit, nl, rx, nr);
        for (size_t i = 0; i < nr && !err; i++)
            if (rx[i].solo)
                rs->ri[rx_rule[i]].flags |= FD_RI_SOLO;
        free(lit);
        free(rx);
        free(rx_rule);
    }
    return err;
}

static void ruleset_free(fd_ruleset *rs)
{
    for (int b = 0; b < FD_BUF_MAX; b++) {
        fd__hb_free(&rs->hb[b]);
        hs_free_database(rs->db[b]);
        hs_free_database(rs->sdb[b]);
    }
    if (rs->ri)
        for (size_t i = 0; i < rs->rl.nrules; i++)
            pcre2_code_free(rs->ri[i].re);
    int large = rs->rl.nrules > 4096;
    free(rs->ri);
    fd_rulelist_free(&rs->rl);
    free(rs);
    /* The set a reload replaced: its pages go back to the system now, not
     * whenever malloc next trims (once per reload, never per request). */
    if (large)
        malloc_trim(0);
}

/*
 * Build the rule set. Every rule is checked first (so all errors are
 * reported together, FILE:LINE each), then one database per buffer is
 * compiled.
 */
/*
 * Take the databases from the cache entry for this rule set, if there is a
 * valid one that fits: the same buffers in use, and prefilter indices that
 * name regexes. Rules that the compile had to switch to prefiltering get
 * their PCRE2 code here. Returns 1 on a hit, 0 on a miss, or FD_ERULES.
 */
static int from_cache(fd_ruleset *rs, const exprs *ex, const char *dir, const char *key,
                      fd_diag *diag)
{
    hs_database_t *db[FD_CACHE_NDB];
    uint32_t *pf;
    size_t npf;
    if (fd_cache_load(dir, key, db, &pf, &npf, &rs->cache_note))
        return 0;
    int fits = 1;
    for (int b = 0; b < FD_BUF_MAX; b++)
        fits &= (ex[b].n > 0) == (db[2 * b] != NULL) && (ex[b].n > 0) == (db[2 * b + 1] != NULL);
    for (size_t i = 0; i < npf && fits; i++)
        fits = pf[i] < rs->rl.nrules && rs->rl.rules[pf[i]].regex;
    /* Every regex was compiled for PCRE2 above; an index that names no
     * regex means the entry is not this rule set's. */
    (void)diag;
    int rc = fits;
    for (size_t i = 0; i < npf && rc == 1; i++)
        if (!(rs->ri[pf[i]].flags & FD_RI_PREFILTER))
            rc = 0;
    if (rc == 1) {
        for (int b = 0; b < FD_BUF_MAX; b++) {
            rs->db[b] = db[2 * b];
            rs->sdb[b] = db[2 * b + 1];
            size_t sz;
            for (int k = 0; k < 2; k++)
                if (db[2 * b + k] && hs_database_size(db[2 * b + k], &sz) == HS_SUCCESS)
                    rs->db_bytes += sz;
        }
    } else {
        for (int i = 0; i < FD_CACHE_NDB; i++)
            hs_free_database(db[i]);
        if (!fits)
            rs->cache_note = "does not fit the rules";
    }
    free(pf);
    return rc;
}

/* Store the databases just compiled; a cache that cannot be written only
 * costs the next start a compile. */
static void to_cache(fd_ruleset *rs, const char *dir, const char *key)
{
    uint32_t *pf = malloc((rs->nprefilter ? rs->nprefilter : 1) * sizeof *pf);
    size_t npf = 0;
    if (!pf)
        return;
    for (size_t i = 0; i < rs->rl.nrules; i++)
        if (rs->ri[i].flags & FD_RI_PREFILTER)
            pf[npf++] = (uint32_t)i;
    hs_database_t *db[FD_CACHE_NDB];
    for (int b = 0; b < FD_BUF_MAX; b++) {
        db[2 * b] = rs->db[b];
        db[2 * b + 1] = rs->sdb[b];
    }
    if (fd_cache_store(dir, key, db, pf, npf))
        rs->cache_note = "could not be written";
    free(pf);
}

int fd_ruleset_compile(fd_rulelist *rl, fd_ruleset **out, fd_diag *diag)
{
    return fd_ruleset_compile_opts(rl, NULL, out, diag);
}

int fd_ruleset_compile_opts(fd_rulelist *rl, const fd_ruleset_opts *o, fd_ruleset **out,
                            fd_diag *diag)
{
    double t0 = now_ms();
    fd_ruleset *rs = calloc(1, sizeof *rs);
    if (!rs)
        return FD_ENOMEM;
    atomic_init(&rs->refs, 1);
    size_t n = rl->nrules;
    rs->ri = calloc(n ? n : 1, sizeof *rs->ri);
    exprs ex[FD_BUF_MAX] = {{0}};
    int err = 0;
    for (int b = 0; b < FD_BUF_MAX && rs->ri; b++) {
        ex[b].expr = calloc(n ? n : 1, sizeof(char *));
        ex[b].flags = calloc(n ? n : 1, sizeof(unsigned));
        ex[b].ids = calloc(n ? n : 1, sizeof(unsigned));
        ex[b].lit = calloc(n ? n : 1, sizeof(char *));
        ex[b].lens = calloc(n ? n : 1, sizeof(size_t));
        if (!ex[b].expr || !ex[b].flags || !ex[b].ids || !ex[b].lit || !ex[b].lens)
            err = FD_ENOMEM;
    }
    if (!rs->ri)
        err = FD_ENOMEM;
    /* Borrow the rules while compiling; they move in only on success. */
    rs->rl = *rl;

    fd_normbuf nb;
    fd_normbuf_init(&nb);
    /* A bad rule is reported and skipped so every bad rule is reported;
     * only running out of memory stops the loop. */
    int bad = 0;
    enum fd_buf part_buf = FD_BUF_STRIP; /* of the @all rule whose parts follow */
    for (size_t i = 0; i < n && !err; i++) {
        const fd_rule *r = &rl->rules[i];
        fd_rinfo *ri = &rs->ri[i];
        enum fd_buf b = buf_of(r);
        const char *fname = rl->files[r->file];
        ri->action = (uint8_t)r->action;
        ri->validator = r->validator;
        if (r->view == FD_VIEW_WORD)
            ri->flags |= FD_RI_WORD;
        if (r->kind == FD_RULE_COMBO) {
            /* No pattern of its own: it matches when its parts do. Its width
             * is the @within window (up to 4 bytes a character), so streams
             * hold back enough to report its whole span. */
            size_t np;
            part_buf = combo_buf(rl, i, &np);
            ri->buf = (uint8_t)part_buf;
            ri->flags |= FD_RI_COMBO;
            ri->nparts = (uint8_t)np;
            ri->width = r->within ? 4 * r->within : FD_WIDTH_UNBOUNDED;
            rs->view_rules[r->view]++;
            if (ri->width == FD_WIDTH_UNBOUNDED)
                rs->nunbounded++;
            if (ri->width > rs->width[part_buf])
                rs->width[part_buf] = ri->width;
            rs->ncombos++;
            continue;
        }
        if (r->kind == FD_RULE_PART) {
            ri->flags |= FD_RI_PART;
            b = part_buf;
        }
        unsigned flags = hs_flags_of(r, b);
        ri->buf = (uint8_t)b;
        char *expr;
        if (r->regex) {
            if (classify_regex(ri, r, &flags, fname, diag)) {
                bad = 1;
                continue;
            }
            ri->rx = (uint32_t)rs->nprefilter++;
            expr = strdup(r->pattern);
            ex[b].nregex++;
        } else {
            const char *lit = r->pattern;
            size_t ll = r->pattern_len;
            if (b != FD_BUF_RAW) {
                /* The pattern goes through the same normalizer as texts. */
                int nr = fd_norm(r->pattern, r->pattern_len,
                                 b == FD_BUF_STRIP ? FD_NORM_STRIP_SEP : FD_NORM_KEEP_SEP, &nb);
                if (nr) {
                    err = nr;
                    break;
                }
                if (nb.len == 0) {
                    fd_diag_add(diag, fname, r->line,
                                "literal is empty after normalization (only separators or "
                                "invisible characters); use @match raw");
                    bad = 1;
                    continue;
                }
                lit = nb.text;
                ll = nb.len;
            }
            ri->flags |= FD_RI_LITERAL;
            ri->len = ri->width = (uint32_t)ll;
            expr = literal_expr(lit, ll);
            char *raw = malloc(ll ? ll : 1);
            if (!raw) {
                free(expr);
                err = FD_ENOMEM;
                break;
            }
            memcpy(raw, lit, ll);
            ex[b].lit[ex[b].n] = raw;
            ex[b].lens[ex[b].n] = ll;
        }
        if (!expr) {
            err = FD_ENOMEM;
            break;
        }
        exprs *e = &ex[b];
        e->expr[e->n] = expr;
        e->flags[e->n] = flags;
        e->ids[e->n] = (unsigned)i;
        e->n++;
        rs->buf_rules[b]++;
        if (r->kind == FD_RULE_PART)
            continue; /* parts count as their @all rule */
        rs->view_rules[r->view]++;
        if (ri->width == FD_WIDTH_UNBOUNDED)
            rs->nunbounded++;
        if (ri->width > rs->width[b])
            rs->width[b] = ri->width;
    }
    fd_normbuf_free(&nb);
    if (!err && bad)
        err = FD_ERULES;
    char key[65];
    const char *cdir = o ? o->cache_dir : NULL;
    if (!err && cdir) {
        err = fd_cache_key(&rs->rl, key);
        if (!err) {
            int hit = from_cache(rs, ex, cdir, key, diag);
            if (hit < 0)
                err = hit;
            rs->cached = hit == 1;
        }
    }
    for (int b = 0; b < FD_BUF_MAX && !err && !rs->cached; b++)
        if (ex[b].n)
            err = compile_db(rs, &ex[b], (enum fd_buf)b,
                             o && o->isolate_min ? o->isolate_min : FD_ISOLATE_DEFAULT, diag);
    if (!err && cdir && !rs->cached)
        to_cache(rs, cdir, key);
    if (!err)
        err = analyse_allows(rs);
    if (!err)
        err = build_holdback(rs, ex);
    for (size_t i = 0; i < n && !err; i++)
        if (rs->ri[i].lookbehind > rs->max_lookbehind)
            rs->max_lookbehind = rs->ri[i].lookbehind;
    for (int b = 0; b < FD_BUF_MAX; b++)
        exprs_free(&ex[b]);

    if (err) {
        /* ruleset_free() frees the PCRE2 codes of rs->rl.nrules rules, but
         * the rule list is still the caller's and is emptied first. */
        for (size_t i = 0; rs->ri && i < n; i++) {
            pcre2_code_free(rs->ri[i].re);
            rs->ri[i].re = NULL;
        }
        fd_rulelist_init(&rs->rl); /* still the caller's */
        ruleset_free(rs);
        return err;
    }
    fd_rulelist_init(rl);
    rs->compile_ms = now_ms() - t0;
    /* A large compile leaves hundreds of MiB of freed memory in malloc's
     * arenas; a daemon that compiled once has no use for it. */
    malloc_trim(0);
    *out = rs;
    return 0;
}

int fd_ruleset_load(const char *dir, fd_ruleset **out, fd_diag *diag)
{
    return fd_ruleset_load_opts(dir, NULL, out, diag);
}

int fd_ruleset_load_opts(const char *dir, const fd_ruleset_opts *o, fd_ruleset **out, fd_diag *diag)
{
    fd_rulelist rl;
    int r = fd_rules_load_dir(dir, &rl, diag);
    if (r)
        return r;
    r = fd_ruleset_compile_opts(&rl, o, out, diag);
    fd_rulelist_free(&rl);
    return r;
}

fd_ruleset *fd_ruleset_ref(fd_ruleset *rs)
{
    atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
    return rs;
}

void fd_ruleset_unref(fd_ruleset *rs)
{
    if (rs && atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) == 1)
        ruleset_free(rs);
}

const fd_rulelist *fd_ruleset_rules(const fd_ruleset *rs)
{
    return &rs->rl;
}

const char *fd_ruleset_version(const fd_ruleset *rs)
{
    return rs->rl.version;
}

size_t fd_ruleset_nrules(const fd_ruleset *rs)
{
    return rs->rl.nrules;
}

const fd_rule *fd_ruleset_rule(const fd_ruleset *rs, uint32_t idx)
{
    return idx < rs->rl.nrules ? &rs->rl.rules[idx] : NULL;
}

const fd_category *fd_ruleset_category(const fd_ruleset *rs, uint32_t idx)
{
    return idx < rs->rl.ncats ? &rs->rl.cats[idx] : NULL;
}

const char *fd_ruleset_file(const fd_ruleset *rs, uint32_t idx)
{
    return idx < rs->rl.nfiles ? rs->rl.files[idx] : NULL;
}

size_t fd_ruleset_view_rules(const fd_ruleset *rs, fd_view v)
{
    return (unsigned)v < FD_VIEW_MAX ? rs->view_rules[v] : 0;
}

double fd_ruleset_compile_ms(const fd_ruleset *rs)
{
    return rs->compile_ms;
}

uint32_t fd_ruleset_rule_width(const fd_ruleset *rs, uint32_t idx)
{
    return idx < rs->rl.nrules ? rs->ri[idx].width : 0;
}

int fd_ruleset_cached(const fd_ruleset *rs)
{
    return rs->cached;
}

const char *fd_ruleset_cache_note(const fd_ruleset *rs)
{
    return rs->cached ? "hit" : rs->cache_note;
}

size_t fd_ruleset_combos(const fd_ruleset *rs)
{
    return rs->ncombos;
}

size_t fd_ruleset_unbounded(const fd_ruleset *rs)
{
    return rs->nunbounded;
}

size_t fd_ruleset_stream_state_bytes(const fd_ruleset *rs)
{
    size_t total = 0, sz;
    for (int b = 0; b < FD_BUF_MAX; b++)
        if (rs->sdb[b] && hs_stream_size(rs->sdb[b], &sz) == HS_SUCCESS)
            total += sz;
    return total;
}

size_t fd_ruleset_db_bytes(const fd_ruleset *rs)
{
    return rs->db_bytes;
}
