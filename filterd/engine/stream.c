/*
 * stream.c — streaming checks: Hyperscan stream mode over each view, fed by
 * the incremental normalizer, and an exact release point.
 *
 * Per view buffer (raw, normalized-kept, normalized-stripped) a stream has a
 * Hyperscan stream and a window: the last bytes of that buffer with the
 * original offset of each, long enough to map the start of any match that
 * can still end (the hold-back: the longest match of the view's rules) and
 * to look one character before it.
 *
 * A match is final once nothing that arrives later can change it: its word
 * boundary after it is known, and no allow match that could contain it can
 * still appear (an allow containing it must start at or before it, and no
 * future match starts before the earliest offset F computed from the
 * hold-backs). Final matches are reported; F is also the release point,
 * unless a block stops it earlier.
 */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "scan_int.h"
#include "utf8.h"
#include "validate.h"

/* Buffer bytes kept before the hold-back, at least: the character before
 * a match (word boundaries) and PCRE2 look-behind context. A rule set with
 * longer look-behinds gets more (sbuf.ctx). */
#define CTX 16u
/* Matches a stream holds that are not final yet, at most. */
#define MAX_PENDING 4096u
/* How far back a new end offset may merge into an earlier match. */
#define MERGE_LOOKBACK 64u

typedef struct pmatch {
    uint32_t rule;
    uint32_t start, end; /* original offsets */
    uint32_t bstart;     /* buffer offsets: the start, for a regex that may grow, */
    uint32_t bend;       /* and the end, for a pending word check */
    uint8_t action;
    uint8_t buf;
    uint8_t need_after; /* word rule ending where its buffer ends so far */
    uint8_t dead;       /* failed its word check */
} pmatch;

typedef struct span {
    uint32_t start, end;
} span;

typedef struct sbuf {
    hs_stream_t *hs;
    fd_norm_state ns;
    fd_normbuf win; /* buffer bytes [base, base + win.len), original offsets */
    uint32_t base;
    uint32_t hold;      /* longest match of the view's rules, capped */
    uint32_t ctx;       /* bytes kept before the hold-back (see CTX) */
    uint32_t last_oend; /* original end of the character behind the last byte */
    /* What the text so far could still need (holdback.h): the literal
     * automaton's state after the last byte; per regex of the buffer, the
     * earliest buffer offset where a match of it may be in progress
     * (UINT32_MAX: none), and the list of those in progress; the earliest
     * of the allow regexes, as of the last horizon(). */
    uint32_t ac;
    uint32_t *rstart;
    uint32_t *act;
    uint32_t nact;
    uint32_t arx;
} sbuf;

struct fd_stream {
    fd_ruleset *rs;
    sbuf b[FD_BUF_MAX];
    uint32_t in;     /* original bytes taken (complete characters) */
    uint8_t part[4]; /* an incomplete character at the end of the last chunk */
    uint8_t npart;
    uint8_t blocked, closed, broken;
    uint8_t widest;              /* FD_STREAM_WIDEST: the bench's baseline */
    uint32_t cap;                /* the hold-back cap (fd_stream_open) */
    uint32_t afront[FD_BUF_MAX]; /* per finalize(): allow front, original offset */
    uint8_t have_af[FD_BUF_MAX];
    fd_action decision;
    uint32_t released;
    uint32_t block_at;
    pmatch *pend;
    size_t npend, pcap;
    span *allow;
    size_t nallow, acap;
    fd_combo_state *cst; /* one per @all rule whose parts occurred */
    size_t ncst, ccap;
    fd_part_occ *occ; /* final part occurrences of this round, to sort */
    size_t nocc, ocap;
    /* Regexes: per regex, the buffer offset where its last recorded match
     * ends (what a new PCRE2 run over the window has reported already); and
     * the regexes whose run ended in a partial match at the end of the
     * window, to run again when more text arrives. */
    uint32_t *rx_end;
    struct held {
        uint32_t rule;
        uint32_t start; /* original offset where the partial match starts */
        uint8_t buf;
    } * held;
    size_t nheld, hcap;
};

/* The piece being fed, for mapping match ends back to original characters. */
typedef struct sctx {
    fd_stream *st;
    fd_scratch *s;
    int b;
    const char *piece;
    uint32_t piece_at, piece_len;
    uint32_t old_run_at, old_run_len; /* the separator run pending before the piece */
    uint32_t prev_n;                  /* buffer length before the piece's output */
    fd_result *res;
    int failed;
} sctx;

static uint32_t buf_len(const sbuf *sb)
{
    return sb->base + (uint32_t)sb->win.len;
}

/* Where confirm() and the regex fronts start PCRE2 in a trimmed window:
 * the bytes before are look-behind context. */
static size_t ctx_start(const sbuf *sb)
{
    size_t off = 0, len = sb->win.len;
    if (sb->base > 0) {
        off = sb->ctx - 4 < len ? sb->ctx - 4 : len;
        while (off < len && ((unsigned char)sb->win.text[off] & 0xC0) == 0x80)
            off++;
    }
    return off;
}

/* Original end offset of the character that starts at original offset OFF
 * and produced a byte of the buffer. New bytes come from the piece, or from
 * the separator run that was pending before it; at close, an end-anchored
 * match may end on the buffer's last byte. */
static uint32_t orig_end(const sctx *c, const sbuf *sb, uint32_t off)
{
    if (c->piece && off >= c->piece_at && off < c->piece_at + c->piece_len)
        return off + (uint32_t)fd_utf8_len((unsigned char)c->piece[off - c->piece_at]);
    if (c->old_run_len && off == c->old_run_at)
        return off + c->old_run_len;
    if (sb->win.len && off == sb->win.map[sb->win.len - 1])
        return sb->last_oend;
    return off + 1;
}

static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, c * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Fail closed when a stream has more undecided matches than it may hold:
 * a dropped block match still blocks. */
static void drop_match(fd_stream *st, uint8_t action, uint32_t start)
{
    if (action == FD_BLOCK) {
        if (!st->blocked || start < st->block_at)
            st->block_at = start;
        st->blocked = 1;
    }
    if (action > st->decision)
        st->decision = (fd_action)action;
}

/*
 * Record a match [from, to) of RULE in buffer offsets as pending. As in
 * fd_scan(), several ends reported for one start make one match, grown to
 * its longest end; a `word` rule needs word boundaries on both sides.
 */
static int record(sctx *c, uint32_t rule, uint32_t from, uint32_t to)
{
    fd_stream *st = c->st;
    sbuf *sb = &st->b[c->b];
    const fd_rinfo *ri = &st->rs->ri[rule];
    uint32_t n = buf_len(sb);
    if (from < sb->base)
        from = sb->base; /* unbounded rule: its start was released already */
    if (to <= from || to > n)
        return 0;
    const char *t = sb->win.text;
    uint8_t need_after = 0;
    if (c->b == FD_BUF_STRIP) {
        /* As in fd_scan(): word rules, and literals spanning a gap. */
        const uint8_t *g = sb->win.gap;
        uint32_t lf = from - sb->base, lt = to - sb->base;
        int word = (ri->flags & FD_RI_WORD) != 0;
        if (word || fd__strip_crosses(g, lf, lt)) {
            if (!fd__strip_start_ok(t, g, sb->win.len, lf, lt, word))
                return 0;
            if (to < n) {
                if (!fd__strip_end_ok(t, g, sb->win.len, lt))
                    return 0;
            } else {
                need_after = 1;
            }
        }
    } else if (ri->flags & FD_RI_WORD) {
        uint32_t lf = from - sb->base;
        if (lf > 0 && fd__word_char_at(t, sb->win.len, fd_utf8_prev(t, lf)))
            return 0;
        if (to < n) {
            if (fd__word_char_at(t, sb->win.len, to - sb->base))
                return 0;
        } else {
            need_after = 1;
        }
    }
    if (ri->validator && !fd_validate(ri->validator, t + (from - sb->base), to - from))
        return 0;
    uint32_t os = sb->win.map[from - sb->base];
    uint32_t oe = orig_end(c, sb, sb->win.map[to - 1 - sb->base]);

    size_t lo = st->npend > MERGE_LOOKBACK ? st->npend - MERGE_LOOKBACK : 0;
    if (ri->flags & FD_RI_PART)
        lo = st->npend; /* every occurrence of a part counts, as in fd_scan() */
    for (size_t i = st->npend; i-- > lo;) {
        pmatch *p = &st->pend[i];
        if (p->rule != rule || p->dead)
            continue;
        if (p->start == os) {
            if (oe > p->end) {
                p->end = oe;
                p->bend = to;
                p->need_after = need_after;
            }
            return 0;
        }
        break;
    }
    if (st->npend >= MAX_PENDING) {
        drop_match(st, ri->action, os);
        return 0;
    }
    if (grow((void **)&st->pend, &st->pcap, st->npend, sizeof *st->pend))
        return -1;
    pmatch *p = &st->pend[st->npend++];
    p->rule = rule;
    p->start = os;
    p->end = oe;
    p->bstart = from;
    p->bend = to;
    p->action = ri->action;
    p->buf = (uint8_t)c->b;
    p->need_after = need_after;
    p->dead = 0;
    return 0;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    (void)flags;
    sctx *c = ctx;
    const fd_rinfo *ri = &c->st->rs->ri[id];
    if (ri->flags & FD_RI_PREFILTER) {
        fd_scratch *s = c->s;
        if (s->cand_gen[id] != s->gen) {
            s->cand_gen[id] = s->gen;
            s->cand[s->ncand++] = id;
        }
        return 0;
    }
    if (ri->flags & FD_RI_LITERAL)
        from = to >= ri->len ? to - ri->len : 0;
    if (record(c, id, (uint32_t)from, (uint32_t)to)) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

static uint32_t to_orig(const fd_stream *st, int b, uint32_t off);

/*
 * Run a regex over the window with PCRE2 and record the matches not
 * recorded before. Mid-stream the run uses partial matching: a match that
 * more text could still change (a look-ahead, $ or \b, or a repeat at the
 * end of the window) comes back as partial; the regex is then held and run
 * again with the next chunk (or at the close, with the real end of the
 * text), and the release point stays before the partial match. On a PCRE2
 * limit the new bytes count as a match (fail closed, as in fd_scan()).
 */
static int confirm(sctx *c, uint32_t rule, int final)
{
    fd_stream *st = c->st;
    sbuf *sb = &st->b[c->b];
    const fd_rinfo *ri = &st->rs->ri[rule];
    fd_scratch *s = c->s;
    const char *t = sb->win.text;
    size_t len = sb->win.len;
    /* Once the window has been trimmed, its first bytes are context only:
     * a match starting there would have been seen before, and starting
     * PCRE2 past them lets look-behinds and \b see the text before. */
    size_t off = ctx_start(sb);
    uint32_t opts = PCRE2_NO_UTF_CHECK | (final ? 0 : PCRE2_PARTIAL_HARD);
    uint32_t *done = &st->rx_end[ri->rx];
    while (off < len) {
        int rc = pcre2_match(ri->re, (PCRE2_SPTR)t, len, off, opts, s->md, s->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        if (rc == PCRE2_ERROR_PARTIAL) {
            /* A partial match may begin at the very end of the window
             * (ov[0] == len: map[len] is not part of the window) or, as
             * regexes run on bytes, inside a character: to_orig() gives a
             * character start the release may stop at (fuzz_stream
             * finding: a stale map entry released half a character). */
            uint32_t from = to_orig(st, c->b, sb->base + (uint32_t)ov[0]);
            if (grow((void **)&st->held, &st->hcap, st->nheld, sizeof *st->held))
                return -1;
            st->held[st->nheld++] = (struct held){rule, from, (uint8_t)c->b};
            return 0;
        }
        if (rc < 0) {
            uint32_t from = c->prev_n > sb->base ? c->prev_n : sb->base;
            if (buf_len(sb) > from && *done < buf_len(sb)) {
                *done = buf_len(sb);
                return record(c, rule, from, buf_len(sb));
            }
            return 0;
        }
        uint32_t end = sb->base + (uint32_t)ov[1];
        if (ov[1] > ov[0] && end > *done) {
            *done = end;
            if (record(c, rule, sb->base + (uint32_t)ov[0], end))
                return -1;
        }
        size_t next = ov[1] > off ? ov[1] : off + 1;
        while (next < len && ((unsigned char)t[next] & 0xC0) == 0x80)
            next++;
        off = next;
    }
    return 0;
}

/* Add the regexes held on buffer B to the candidates of this scan, and
 * forget them: confirm() holds them again if they are still partial. */
static void take_held(fd_stream *st, fd_scratch *s, int b)
{
    size_t k = 0;
    for (size_t i = 0; i < st->nheld; i++) {
        uint32_t rule = st->held[i].rule;
        if (st->held[i].buf != b) {
            st->held[k++] = st->held[i];
            continue;
        }
        if (s->cand_gen[rule] != s->gen) {
            s->cand_gen[rule] = s->gen;
            s->cand[s->ncand++] = rule;
        }
    }
    st->nheld = k;
}

/* Keep only the bytes a future match can still need: the hold-back and
 * CTX bytes before it, cut on a character boundary. */
static void trim(sbuf *sb)
{
    uint32_t n = buf_len(sb);
    uint64_t keep = (uint64_t)sb->hold + sb->ctx;
    if (n <= keep || n - keep <= sb->base)
        return;
    size_t cut = n - (uint32_t)keep - sb->base;
    while (cut < sb->win.len && ((unsigned char)sb->win.text[cut] & 0xC0) == 0x80)
        cut++;
    size_t rest = sb->win.len - cut;
    memmove(sb->win.text, sb->win.text + cut, rest);
    memmove(sb->win.map, sb->win.map + cut, rest * sizeof *sb->win.map);
    if (sb->win.gap)
        memmove(sb->win.gap, sb->win.gap + cut, rest);
    sb->win.len = rest;
    sb->win.text[rest] = '\0';
    sb->base += (uint32_t)cut;
    /* A large chunk grew the window; give the memory back. */
    size_t want = keep + 4096;
    if (sb->win.cap > 4 * want) {
        char *t2 = realloc(sb->win.text, want + 1);
        if (t2)
            sb->win.text = t2;
        uint32_t *m2 = realloc(sb->win.map, (want + 1) * sizeof *m2);
        if (m2)
            sb->win.map = m2;
        uint8_t *g2 = sb->win.gap ? realloc(sb->win.gap, want + 1) : NULL;
        if (g2)
            sb->win.gap = g2;
        /* Each array now holds at least want + 1 entries, shrunk or not. */
        sb->win.cap = want;
    }
}

/* Append raw bytes (the raw view) to the window, each mapped to itself. */
static int append_raw(sbuf *sb, const char *p, size_t len, uint32_t at)
{
    size_t need = sb->win.len + len + 1;
    if (need > sb->win.cap) {
        size_t cap = sb->win.cap ? sb->win.cap : 256;
        while (cap < need)
            cap *= 2;
        char *t = realloc(sb->win.text, cap);
        if (!t)
            return FD_ENOMEM;
        sb->win.text = t;
        uint32_t *m = realloc(sb->win.map, cap * sizeof *m);
        if (!m)
            return FD_ENOMEM;
        sb->win.map = m;
        sb->win.cap = cap;
    }
    memcpy(sb->win.text + sb->win.len, p, len);
    for (size_t i = 0; i < len; i++)
        sb->win.map[sb->win.len + i] = at + (uint32_t)i;
    sb->win.len += len;
    sb->win.text[sb->win.len] = '\0';
    return 0;
}

/* Regex R of buffer SB may be in progress from buffer offset AT on. */
static void start_regex(void *ctx, uint32_t r, uint32_t at)
{
    sbuf *sb = ctx;
    if (sb->rstart[r] == UINT32_MAX)
        sb->act[sb->nact++] = r;
    if (at < sb->rstart[r])
        sb->rstart[r] = at;
}

/* The regexes that the text from buffer offset PREV (of the window) on
 * can begin are in progress from there: those whose lead literal it
 * completes, and those a character of it can begin (holdback.h). */
static void start_regexes(fd_stream *st, int b, size_t prev)
{
    sbuf *sb = &st->b[b];
    const fd_hb *h = &st->rs->hb[b];
    sb->ac = fd__hb_walk_lead(h, sb->ac, sb->win.text + prev, sb->win.len - prev,
                              sb->base + (uint32_t)prev, start_regex, sb);
    if (!h->nre)
        return;
    if (!h->nany && !h->nwide && !h->aoff[128] && !h->hcap)
        return;
    const unsigned char *t = (const unsigned char *)sb->win.text;
    for (size_t i = prev; i < sb->win.len;) {
        size_t cl;
        uint32_t cp = t[i] < 0x80 ? (cl = 1, t[i]) : fd__hb_decode(t + i, sb->win.len - i, &cl);
        const uint32_t *l[2];
        size_t nl[2];
        fd__hb_firsts(h, cp, &l[0], &nl[0], &l[1], &nl[1]);
        for (int x = 0; x < 2; x++)
            for (size_t k = 0; k < nl[x]; k++)
                start_regex(sb, l[x][k], sb->base + (uint32_t)i);
        i += cl;
    }
}

/* In the stripped view, a match ending where the buffer ends is bounded
 * once a separator run is pending after it: whatever follows will come
 * after a gap or a break (or the text ends there). */
static void settle_before_run(fd_stream *st, int b)
{
    sbuf *sb = &st->b[b];
    if (b != FD_BUF_STRIP || !sb->ns.run)
        return;
    for (size_t i = 0; i < st->npend; i++) {
        pmatch *p = &st->pend[i];
        if (p->buf == b && p->need_after && p->bend == buf_len(sb))
            p->need_after = 0;
    }
}

/* Run one piece of complete characters through every view. */
static int feed_piece(fd_stream *st, fd_scratch *s, const char *piece, size_t len)
{
    /* First every view's new bytes (both normalized views in one pass when
     * both are used), then the scans: a view's context is taken before its
     * buffer grows. */
    sctx c[FD_BUF_MAX];
    size_t prev_len[FD_BUF_MAX];
    for (int b = 0; b < FD_BUF_MAX; b++) {
        sbuf *sb = &st->b[b];
        c[b] = (sctx){.st = st,
                      .s = s,
                      .b = b,
                      .piece = piece,
                      .piece_at = st->in,
                      .piece_len = (uint32_t)len,
                      .prev_n = buf_len(sb)};
        prev_len[b] = sb->win.len;
        if (sb->hs && b != FD_BUF_RAW && sb->ns.run) {
            c[b].old_run_at = sb->ns.run_at;
            c[b].old_run_len = sb->ns.run_len;
        }
    }
    sbuf *keep = &st->b[FD_BUF_KEEP], *strip = &st->b[FD_BUF_STRIP];
    int r = 0;
    if (st->b[FD_BUF_RAW].hs)
        r = append_raw(&st->b[FD_BUF_RAW], piece, len, st->in);
    if (!r && keep->hs && strip->hs)
        r = fd_norm_feed_both(&keep->ns, &strip->ns, piece, len, &keep->win, &strip->win);
    else if (!r && keep->hs)
        r = fd_norm_feed(&keep->ns, piece, len, &keep->win);
    else if (!r && strip->hs)
        r = fd_norm_feed(&strip->ns, piece, len, &strip->win);
    if (r)
        return r;

    for (int b = 0; b < FD_BUF_MAX; b++) {
        sbuf *sb = &st->b[b];
        if (!sb->hs)
            continue;
        size_t added = sb->win.len - prev_len[b];
        if (!added) {
            settle_before_run(st, b);
            continue;
        }
        /* The first new character settles pending word checks. */
        int after_word = fd__word_char_at(sb->win.text, sb->win.len, prev_len[b]);
        if (b == FD_BUF_STRIP)
            after_word = after_word && !sb->win.gap[prev_len[b]];
        for (size_t i = 0; i < st->npend; i++) {
            pmatch *p = &st->pend[i];
            if (p->buf == b && p->need_after && p->bend == c[b].prev_n) {
                p->need_after = 0;
                p->dead = (uint8_t)after_word;
            }
        }
        fd__scratch_next_gen(s);
        hs_error_t e = hs_scan_stream(sb->hs, sb->win.text + prev_len[b], (unsigned)added, 0, s->hs,
                                      on_match, &c[b]);
        if (c[b].failed)
            return FD_ENOMEM;
        if (e != HS_SUCCESS)
            return FD_EHS;
        take_held(st, s, b);
        for (size_t i = 0; i < s->ncand; i++)
            if (confirm(&c[b], s->cand[i], 0))
                return FD_ENOMEM;
        settle_before_run(st, b);
        sb->last_oend = orig_end(&c[b], sb, sb->win.map[sb->win.len - 1]);
        if (!st->widest)
            start_regexes(st, b, prev_len[b]);
        trim(sb);
    }
    st->in += (uint32_t)len;
    return 0;
}

/* The original offset of the character at buffer offset OFF of buffer B,
 * rounded down to a character start (the raw buffer maps every byte to
 * itself): what may be released when nothing from OFF on is. From the end
 * of the buffer on, the first byte the view has not settled. */
static uint32_t to_orig(const fd_stream *st, int b, uint32_t off)
{
    const sbuf *sb = &st->b[b];
    uint32_t pending = b == FD_BUF_RAW ? st->in : fd_norm_pending(&sb->ns);
    /* All the normalizer holds is a separator run (norm.h), which becomes
     * one break byte or nothing (STRIP) or one ' ' or '\n' (KEEP). A
     * match never begins with a STRIP break, nor with white space unless
     * a rule of the buffer can (sep_start); one that would contain the run
     * begins before it and is held back from there. */
    if (!st->widest && sb->ns.run && pending == sb->ns.run_at &&
        (b == FD_BUF_STRIP || !st->rs->hb[b].sep_start))
        pending = sb->ns.base;
    uint32_t n = buf_len(sb);
    if (off >= n)
        return pending;
    if (off < sb->base)
        off = sb->base;
    size_t i = off - sb->base;
    while (i > 0 && ((unsigned char)sb->win.text[i] & 0xC0) == 0x80)
        i--;
    return sb->win.map[i] < pending ? sb->win.map[i] : pending;
}

/* Buffer offset N + 1 - W, at least 0: where a match of at most W bytes
 * that ends after the buffer's end N starts at the earliest. */
static uint32_t back(uint32_t n, uint32_t w)
{
    return n + 1 > w ? n + 1 - w : 0;
}

/* The earliest original offset at which a match of at most W bytes (capped
 * by the hold-back) that ends after the current end of buffer B could
 * start. */
static uint32_t future_start(const fd_stream *st, int b, uint32_t w)
{
    const sbuf *sb = &st->b[b];
    return to_orig(st, b, back(buf_len(sb), w < sb->hold ? w : sb->hold));
}

/* Search again for each regex of buffer B in progress, from where it may
 * have started: it stays in progress from the earliest start that more
 * text could still complete, or drops out. Returns the earliest start, and
 * sets sb->arx to the earliest of the allow regexes (buffer offsets; the
 * buffer's end when none). */
static uint32_t regex_front(fd_stream *st, fd_scratch *s, int b)
{
    sbuf *sb = &st->b[b];
    const fd_hb *h = &st->rs->hb[b];
    uint32_t n = buf_len(sb), f = n, fa = n, k = 0;
    size_t lo = ctx_start(sb);
    for (uint32_t i = 0; i < sb->nact; i++) {
        uint32_t r = sb->act[i];
        size_t from = sb->rstart[r] > sb->base ? sb->rstart[r] - sb->base : 0;
        if (from < lo)
            from = lo;
        size_t x = fd__hb_rx_front(h->re[r].code, sb->win.text, sb->win.len, from, s->md, s->mctx);
        if (x >= sb->win.len) {
            sb->rstart[r] = UINT32_MAX;
            continue;
        }
        sb->rstart[r] = sb->base + (uint32_t)x;
        sb->act[k++] = r;
        if (sb->rstart[r] < f)
            f = sb->rstart[r];
        if (h->re[r].allow && sb->rstart[r] < fa)
            fa = sb->rstart[r];
    }
    sb->nact = k;
    sb->arx = fa;
    return f;
}

/*
 * The earliest original offset at which a match not yet seen in buffer B
 * could start, from the state of its text: the longest suffix some literal
 * could still extend, the earliest regex match in progress, the width of
 * the rules that neither covers; never before the hold-back cap; and the
 * first byte the normalizer has not settled.
 */
/*
 * The buffer offset from which automaton T, in state S after the end N of
 * buffer B, may still be inside a literal (ALLOW: an allow literal); N when
 * it is not. A separator run the normalizer holds whose byte is already
 * known (a white space run after text in KEEP: ' ' or '\n'; a run in STRIP
 * that is a break) is walked ahead: a prefix it cannot continue is dead;
 * if a literal may begin with that byte, *VIRT is the run's offset.
 */
static uint32_t trie_front(const fd_stream *st, int b, const fd_hb *t, uint32_t s, int allow,
                           uint32_t *virt)
{
    const sbuf *sb = &st->b[b];
    uint32_t n = buf_len(sb);
    if (!t || !t->nnodes)
        return n;
    uint32_t (*depth)(const fd_hb *, uint32_t) = allow ? fd__hb_allow : fd__hb_live;
    const fd_norm_state *ns = &sb->ns;
    if (b != FD_BUF_RAW && ns->run && ns->any && fd_norm_pending(ns) == ns->run_at &&
        (b == FD_BUF_KEEP || ns->brk || ns->run > FD_NORM_MAX_NOISE)) {
        static const char brk[] = {FD_NORM_BREAK};
        const char *next = b == FD_BUF_KEEP ? " \n" : brk;
        size_t nnext = b == FD_BUF_KEEP ? 2 : 1;
        uint32_t f = n;
        for (size_t k = 0; k < nnext; k++) {
            uint32_t l = depth(t, fd__hb_walk(t, s, next + k, 1));
            if (l == 1)
                *virt = ns->run_at;
            else if (l > 1 && n + 1 - l < f)
                f = n + 1 - l;
        }
        return f;
    }
    return n - depth(t, s);
}

/*
 * The earliest original offset at which a match not yet seen in buffer B
 * could start, from the state of its text: the longest suffix some literal
 * (or some regex's lead literal) could still extend, the earliest regex
 * match in progress, the width of the regexes neither covers; never before
 * the hold-back cap; and the first byte the normalizer has not settled.
 */
static uint32_t exact_front(fd_stream *st, fd_scratch *s, int b)
{
    sbuf *sb = &st->b[b];
    const fd_hb *h = &st->rs->hb[b];
    uint32_t n = buf_len(sb), virt = UINT32_MAX;
    uint32_t f = trie_front(st, b, h, sb->ac, 0, &virt);
    if (h->solo_w && back(n, h->solo_w) < f)
        f = back(n, h->solo_w);
    uint32_t r = regex_front(st, s, b);
    if (r < f)
        f = r;
    if (f < back(n, sb->hold))
        f = back(n, sb->hold);
    uint32_t o = to_orig(st, b, f);
    return virt < o ? virt : o;
}

/* The same for the allow rules of buffer B alone: no allow match not yet
 * seen can start before it. Computed once per finalize(), after
 * horizon() has searched the regexes. */
static uint32_t allow_front(fd_stream *st, int b)
{
    if (st->have_af[b])
        return st->afront[b];
    sbuf *sb = &st->b[b];
    const fd_hb *h = &st->rs->hb[b];
    uint32_t n = buf_len(sb), virt = UINT32_MAX;
    uint32_t f = trie_front(st, b, h, sb->ac, 1, &virt);
    if (h->solo_allow_w && back(n, h->solo_allow_w) < f)
        f = back(n, h->solo_allow_w);
    if (sb->arx < f)
        f = sb->arx;
    uint32_t o = to_orig(st, b, f);
    st->afront[b] = virt < o ? virt : o;
    st->have_af[b] = 1;
    return st->afront[b];
}

/* Whether @all rule COMBO has negated parts (it then fires at the end). */
static int has_negated(const fd_ruleset *rs, uint32_t combo)
{
    for (unsigned p = 0; p < rs->ri[combo].nparts; p++)
        if (rs->rl.rules[combo + 1 + p].negated)
            return 1;
    return 0;
}

/* The earliest original offset an @all rule can still report: the earliest
 * latest occurrence of its positive parts seen so far, unless older than
 * its @within window; a rule satisfied but waiting for the end (negated
 * parts) holds its whole span, up to the hold-back cap. */
static uint32_t combo_front(const fd_stream *st, const fd_combo_state *cs)
{
    const fd_ruleset *rs = st->rs;
    const fd_rinfo *ci = &rs->ri[cs->combo];
    const sbuf *sb = &st->b[ci->buf];
    if (!sb->hs)
        return UINT32_MAX;
    if (cs->done) {
        if (!has_negated(rs, cs->combo) || cs->neg_seen)
            return UINT32_MAX;
        uint32_t lo = to_orig(st, ci->buf, back(buf_len(sb), st->cap));
        return cs->start > lo ? cs->start : lo;
    }
    uint32_t f = UINT32_MAX;
    for (unsigned p = 0; p < ci->nparts; p++)
        if ((cs->have & (1u << p)) && !rs->rl.rules[cs->combo + 1 + p].negated &&
            cs->latest[p].start < f)
            f = cs->latest[p].start;
    if (f == UINT32_MAX)
        return f;
    uint32_t lo = future_start(st, ci->buf, ci->width);
    return f > lo ? f : lo;
}

/*
 * The earliest original offset at which a match not yet reported could
 * start: per view, exact_front() (or, for FD_STREAM_WIDEST, the byte `hold`
 * back from the end of its buffer); the start of any match whose word
 * boundary after it is still unknown, of any regex held partial, of any
 * @all rule still in progress. UINT32_MAX when nothing remains.
 */
static uint32_t horizon(fd_stream *st, fd_scratch *s, int at_end)
{
    uint32_t f = UINT32_MAX;
    if (at_end)
        return f;
    for (int b = 0; b < FD_BUF_MAX; b++) {
        if (!st->b[b].hs)
            continue;
        uint32_t fb = st->widest ? future_start(st, b, st->b[b].hold) : exact_front(st, s, b);
        if (fb < f)
            f = fb;
    }
    for (size_t i = 0; i < st->npend; i++)
        if (st->pend[i].need_after && !st->pend[i].dead && st->pend[i].start < f)
            f = st->pend[i].start;
    for (size_t i = 0; i < st->nheld; i++)
        if (st->held[i].start < f)
            f = st->held[i].start;
    if (st->widest)
        return f;
    /* @all rules: part occurrences not yet fed to their rule (finalize()
     * does that next) may start its span; then the rules in progress. */
    for (size_t i = 0; i < st->npend; i++)
        if (!st->pend[i].dead && (st->rs->ri[st->pend[i].rule].flags & FD_RI_PART) &&
            st->pend[i].start < f)
            f = st->pend[i].start;
    for (size_t i = 0; i < st->ncst; i++) {
        uint32_t c = combo_front(st, &st->cst[i]);
        if (c < f)
            f = c;
    }
    return f;
}

static int push_result(fd_result *res, const pmatch *p, uint8_t suppressed)
{
    return fd__result_push(res, p->rule, p->start, p->end, p->action, suppressed) < 0 ? -1 : 0;
}

/*
 * Whether pending match P can no longer change: its word boundary after it
 * is known; a regex has seen every end it could have for its start; and no
 * allow match that could contain it can still appear (nor grow from one
 * already seen but not final).
 */
static int is_final(fd_stream *st, const pmatch *p)
{
    if (p->need_after)
        return 0;
    const fd_rinfo *ri = &st->rs->ri[p->rule];
    const sbuf *sb = &st->b[p->buf];
    (void)sb;
    if (ri->flags & FD_RI_PART)
        return 1; /* occurrences, not matches: each end counts on its own */
    /* A regex match is complete when PCRE2 reports it (partial ones are
     * held back, see confirm()); a literal has one length. */
    if (p->action == FD_ALLOW)
        return 1;
    /* An allow match that could contain P and is not seen yet ends after
     * the end of its buffer, so it is at most allow_w long from there; and
     * it must be in progress already, starting at or before P. */
    for (int b = 0; b < FD_BUF_MAX; b++)
        if (ri->allow_w[b] && st->b[b].hs && p->start >= future_start(st, b, ri->allow_w[b]) &&
            (st->widest || p->start >= allow_front(st, b)))
            return 0;
    for (size_t i = 0; i < st->npend; i++) {
        const pmatch *q = &st->pend[i];
        if (q->action == FD_ALLOW && !q->dead && q->start <= p->start)
            return 0; /* an allow not final yet might hide it */
    }
    return 1;
}

static fd_combo_state *combo_state(fd_stream *st, uint32_t combo)
{
    for (size_t i = 0; i < st->ncst; i++)
        if (st->cst[i].combo == combo)
            return &st->cst[i];
    if (grow((void **)&st->cst, &st->ccap, st->ncst, sizeof *st->cst))
        return NULL;
    fd__combo_init(&st->cst[st->ncst], combo);
    return &st->cst[st->ncst++];
}

/* Add a match of an @all rule that just fired as pending: it is final
 * once no allow could contain it, like any other match. */
static int add_combo_match(fd_stream *st, uint32_t combo, uint32_t start, uint32_t end)
{
    const fd_rinfo *ri = &st->rs->ri[combo];
    if (st->npend >= MAX_PENDING) {
        drop_match(st, ri->action, start);
        return 0;
    }
    if (grow((void **)&st->pend, &st->pcap, st->npend, sizeof *st->pend))
        return -1;
    st->pend[st->npend++] =
        (pmatch){.rule = combo, .start = start, .end = end, .action = ri->action, .buf = ri->buf};
    return 0;
}

/*
 * Feed the part occurrences that are final into their @all rules, in
 * order of their end as fd_scan() does, and turn the rules that fire into
 * pending matches. At the end of the text, rules with negated parts are
 * decided too.
 */
static int combos(fd_stream *st, int at_end)
{
    const fd_ruleset *rs = st->rs;
    st->nocc = 0;
    for (size_t i = 0; i < st->npend; i++) {
        pmatch *p = &st->pend[i];
        if (p->dead || !(rs->ri[p->rule].flags & FD_RI_PART) || (p->need_after && !at_end))
            continue;
        if (grow((void **)&st->occ, &st->ocap, st->nocc, sizeof *st->occ))
            return -1;
        st->occ[st->nocc++] = (fd_part_occ){p->rule, p->start, p->end, p->bstart, p->bend};
        p->dead = 1;
    }
    fd__sort_parts(st->occ, st->nocc);
    uint32_t s, e;
    for (size_t i = 0; i < st->nocc; i++) {
        const fd_part_occ *o = &st->occ[i];
        uint32_t combo = rs->rl.rules[o->rule].combo;
        fd_combo_state *cs = combo_state(st, combo);
        if (!cs)
            return -1;
        const sbuf *sb = &st->b[rs->ri[combo].buf];
        if (fd__combo_add(rs, cs, o, sb->win.text, sb->base, (uint32_t)sb->win.len, &s, &e) &&
            add_combo_match(st, combo, s, e))
            return -1;
    }
    if (at_end)
        for (size_t i = 0; i < st->ncst; i++)
            if (fd__combo_end(rs, &st->cst[i], &s, &e) &&
                add_combo_match(st, st->cst[i].combo, s, e))
                return -1;
    return 0;
}

/*
 * Move the matches that are final out of the pending list: allow matches
 * into the allow spans, block and flag matches into RES, suppressed if an
 * allow span contains them. At the end of the text everything is final.
 * Allow spans that end at or before F (no match can start before F any
 * more) cannot contain a later match and are dropped.
 */
static int finalize(fd_stream *st, uint32_t f, int at_end, fd_result *res)
{
    memset(st->have_af, 0, sizeof st->have_af);
    if (combos(st, at_end))
        return -1;
    for (size_t i = 0; i < st->npend; i++) {
        pmatch *p = &st->pend[i];
        if (p->dead || p->action != FD_ALLOW || !(at_end || is_final(st, p)))
            continue;
        if (grow((void **)&st->allow, &st->acap, st->nallow, sizeof *st->allow))
            return -1;
        st->allow[st->nallow].start = p->start;
        st->allow[st->nallow].end = p->end;
        st->nallow++;
        p->dead = 1;
    }
    for (size_t i = 0; i < st->npend; i++) {
        pmatch *p = &st->pend[i];
        if (p->dead)
            continue;
        if (!at_end && !is_final(st, p))
            continue;
        uint8_t sup = 0;
        for (size_t a = 0; a < st->nallow && !sup; a++)
            sup = st->allow[a].start <= p->start && st->allow[a].end >= p->end;
        if (push_result(res, p, sup))
            return -1;
        p->dead = 1;
        if (!sup) {
            if (p->action > st->decision)
                st->decision = (fd_action)p->action;
            if (p->action == FD_BLOCK && (!st->blocked || p->start < st->block_at)) {
                st->blocked = 1;
                st->block_at = p->start;
            }
        }
    }
    /* Compact (is_final() above read the list while it was being moved:
     * entries it looked at are all still there, dead or alive). */
    size_t k = 0;
    for (size_t i = 0; i < st->npend; i++)
        if (!st->pend[i].dead)
            st->pend[k++] = st->pend[i];
    st->npend = k;
    k = 0;
    for (size_t a = 0; a < st->nallow; a++)
        if (st->allow[a].end > f)
            st->allow[k++] = st->allow[a];
    st->nallow = k;
    fd__sort_matches(res->matches, res->n);
    return 0;
}

static void set_release(fd_stream *st, uint32_t f, fd_result *res, uint64_t *release)
{
    uint32_t r = f < st->in ? f : st->in;
    if (st->blocked && st->block_at < r)
        r = st->block_at;
    if (r > st->released)
        st->released = r;
    res->decision = st->decision;
    *release = st->released;
}

int fd_stream_open(fd_ruleset *rs, fd_scratch *s, uint32_t max_holdback, fd_stream **out)
{
    if (rs->rl.nrules > s->nrules_cap)
        return FD_ESTATE;
    fd_stream *st = calloc(1, sizeof *st);
    if (!st)
        return FD_ENOMEM;
    st->rs = fd_ruleset_ref(rs);
    st->rx_end = calloc(rs->nprefilter ? rs->nprefilter : 1, sizeof *st->rx_end);
    if (!st->rx_end) {
        fd_stream_free(st);
        return FD_ENOMEM;
    }
    if (!max_holdback)
        max_holdback = FD_STREAM_DEFAULT_HOLDBACK;
    st->cap = max_holdback;
    for (int b = 0; b < FD_BUF_MAX; b++) {
        sbuf *sb = &st->b[b];
        fd_normbuf_init(&sb->win);
        if (!rs->sdb[b])
            continue;
        fd_norm_begin(&sb->ns, b == FD_BUF_STRIP ? FD_NORM_STRIP_SEP : FD_NORM_KEEP_SEP);
        sb->hold = rs->width[b] < max_holdback ? rs->width[b] : max_holdback;
        if (rs->hb[b].nre) {
            sb->rstart = malloc(rs->hb[b].nre * sizeof *sb->rstart);
            sb->act = malloc(rs->hb[b].nre * sizeof *sb->act);
            if (!sb->rstart || !sb->act) {
                fd_stream_free(st);
                return FD_ENOMEM;
            }
            memset(sb->rstart, 0xFF, rs->hb[b].nre * sizeof *sb->rstart);
        }
        /* 4 bytes a character of look-behind, and 4 more for the cut on a
         * character boundary that trim() may move forward. */
        sb->ctx = CTX > 4 * rs->max_lookbehind + 8 ? CTX : 4 * rs->max_lookbehind + 8;
        if (hs_open_stream(rs->sdb[b], 0, &sb->hs) != HS_SUCCESS) {
            fd_stream_free(st);
            return FD_ENOMEM;
        }
    }
    *out = st;
    return 0;
}

/* Whether P[0..N) is the start of a valid UTF-8 character, not complete. */
static int utf8_prefix(const unsigned char *p, size_t n)
{
    size_t want = fd_utf8_len(p[0]);
    if (p[0] < 0xC2 || p[0] > 0xF4 || n >= want)
        return 0;
    unsigned char pad[4];
    memcpy(pad, p, n);
    for (size_t i = n; i < want; i++)
        pad[i] = i == 1 && p[0] == 0xE0 ? 0xA0 : i == 1 && p[0] == 0xF0 ? 0x90 : 0x80;
    return fd_utf8_valid((const char *)pad, want);
}

int fd_stream_feed(fd_stream *st, fd_scratch *s, const char *chunk, size_t len, fd_result *res,
                   uint64_t *release)
{
    res->n = 0;
    res->dropped = 0;
    res->decision = st->decision;
    *release = st->released;
    if (st->broken || st->closed || st->blocked)
        return FD_ESTATE;
    if ((uint64_t)st->in + st->npart + len >= UINT32_MAX)
        return FD_ETOOBIG;
    if (st->rs->rl.nrules > s->nrules_cap)
        return FD_ESTATE;

    /* Validate everything first, so a bad chunk changes nothing. */
    unsigned char head[4];
    size_t hlen = 0, take = 0;
    if (st->npart) {
        size_t want = fd_utf8_len(st->part[0]);
        take = want - st->npart < len ? want - st->npart : len;
        memcpy(head, st->part, st->npart);
        memcpy(head + st->npart, chunk, take);
        hlen = st->npart + take;
        if (hlen == want ? !fd_utf8_valid((const char *)head, hlen) : !utf8_prefix(head, hlen))
            return FD_EUTF8;
    }
    const char *rest = chunk + take;
    size_t rlen = len - take, ok = fd_utf8_check(rest, rlen);
    if (ok < rlen && !utf8_prefix((const unsigned char *)rest + ok, rlen - ok))
        return FD_EUTF8;

    int r = 0;
    if (st->npart) {
        if (hlen == fd_utf8_len(head[0])) {
            r = feed_piece(st, s, (const char *)head, hlen);
            st->npart = 0;
        } else {
            memcpy(st->part, head, hlen);
            st->npart = (uint8_t)hlen;
        }
    }
    if (!r && ok)
        r = feed_piece(st, s, rest, ok);
    if (!r && ok < rlen) {
        memcpy(st->part, rest + ok, rlen - ok);
        st->npart = (uint8_t)(rlen - ok);
    }
    if (!r) {
        uint32_t f = horizon(st, s, 0);
        r = finalize(st, f, 0, res) ? FD_ENOMEM : 0;
        set_release(st, f, res, release);
    }
    if (r)
        st->broken = 1;
    return r;
}

int fd_stream_close(fd_stream *st, fd_scratch *s, fd_result *res, uint64_t *release)
{
    res->n = 0;
    res->dropped = 0;
    res->decision = st->decision;
    *release = st->released;
    if (st->broken || st->closed)
        return FD_ESTATE;
    st->closed = 1;
    if (st->blocked)
        return 0; /* finished at the block: nothing more is released */
    int r = 0;
    for (int b = 0; b < FD_BUF_MAX && !r; b++) {
        sbuf *sb = &st->b[b];
        if (!sb->hs)
            continue;
        sctx c = {.st = st, .s = s, .b = b, .prev_n = buf_len(sb)};
        fd__scratch_next_gen(s);
        hs_error_t e = hs_close_stream(sb->hs, s->hs, on_match, &c);
        sb->hs = NULL;
        if (c.failed)
            r = FD_ENOMEM;
        else if (e != HS_SUCCESS)
            r = FD_EHS;
        /* End-anchored regexes fire only now; held ones learn where the
         * text ends. */
        take_held(st, s, b);
        for (size_t i = 0; i < s->ncand && !r; i++)
            if (confirm(&c, s->cand[i], 1))
                r = FD_ENOMEM;
    }
    /* The end of the text is a word boundary. */
    for (size_t i = 0; i < st->npend; i++)
        st->pend[i].need_after = 0;
    if (!r)
        r = finalize(st, UINT32_MAX, 1, res) ? FD_ENOMEM : 0;
    if (!r && st->npart)
        r = FD_EUTF8; /* the text ended inside a character */
    set_release(st, UINT32_MAX, res, release);
    if (r)
        st->broken = 1;
    return r;
}

void fd_stream_free(fd_stream *st)
{
    if (!st)
        return;
    for (int b = 0; b < FD_BUF_MAX; b++) {
        if (st->b[b].hs)
            hs_close_stream(st->b[b].hs, NULL, NULL, NULL);
        fd_normbuf_free(&st->b[b].win);
        free(st->b[b].rstart);
        free(st->b[b].act);
    }
    fd_ruleset_unref(st->rs);
    free(st->pend);
    free(st->allow);
    free(st->cst);
    free(st->occ);
    free(st->rx_end);
    free(st->held);
    free(st);
}

void fd_stream_set_policy(fd_stream *st, fd_stream_policy p)
{
    st->widest = p == FD_STREAM_WIDEST;
}

fd_action fd_stream_decision(const fd_stream *st)
{
    return st->decision;
}

uint64_t fd_stream_length(const fd_stream *st)
{
    return st->in;
}

int fd_stream_blocked(const fd_stream *st)
{
    return st->blocked;
}

const fd_ruleset *fd_stream_ruleset(const fd_stream *st)
{
    return st->rs;
}

size_t fd_stream_bytes(const fd_stream *st)
{
    size_t n = sizeof *st + st->pcap * sizeof *st->pend + st->acap * sizeof *st->allow +
               st->ccap * sizeof *st->cst + st->ocap * sizeof *st->occ +
               st->rs->nprefilter * sizeof *st->rx_end + st->hcap * sizeof *st->held;
    for (int b = 0; b < FD_BUF_MAX; b++) {
        const sbuf *sb = &st->b[b];
        size_t sz = 0;
        if (st->rs->sdb[b] && hs_stream_size(st->rs->sdb[b], &sz) == HS_SUCCESS)
            n += sz;
        n += sb->win.cap * (1 + sizeof *sb->win.map);
        n += 2 * st->rs->hb[b].nre * sizeof(uint32_t);
    }
    return n;
}

uint32_t fd_stream_rule_holdback(const fd_ruleset *rs, uint32_t idx, int *always)
{
    if (always)
        *always = 0;
    if (idx >= rs->rl.nrules)
        return 0;
    const fd_rinfo *ri = &rs->ri[idx];
    if (ri->flags & FD_RI_LITERAL) {
        /* Its longest proper prefix: the literal, as its view has it, less
         * its last character. */
        const fd_rule *r = &rs->rl.rules[idx];
        const char *t = r->pattern;
        size_t l = r->pattern_len;
        fd_normbuf nb;
        fd_normbuf_init(&nb);
        if (ri->buf != FD_BUF_RAW &&
            fd_norm(t, l, ri->buf == FD_BUF_STRIP ? FD_NORM_STRIP_SEP : FD_NORM_KEEP_SEP, &nb) == 0)
            t = nb.text, l = nb.len;
        uint32_t h = l ? (uint32_t)fd_utf8_prev(t, l) : 0;
        fd_normbuf_free(&nb);
        return h;
    }
    if (always && (ri->flags & FD_RI_SOLO))
        *always = 1;
    return ri->width;
}

int fd_stream_holdback_notes(const fd_ruleset *rs, uint32_t above, int all, fd_diag *diag)
{
    int n = 0;
    for (uint32_t i = 0; i < rs->rl.nrules; i++) {
        const fd_rule *r = &rs->rl.rules[i];
        if (r->kind == FD_RULE_PART)
            continue;
        int always;
        uint32_t h = fd_stream_rule_holdback(rs, i, &always);
        if (!all && h <= above)
            continue;
        const char *file = rs->rl.files[r->file];
        if (h == FD_WIDTH_UNBOUNDED)
            fd_diag_add(diag, file, r->line,
                        "note: streams hold back up to %u bytes (the cap) while a match of it may "
                        "be in progress: unbounded width",
                        FD_STREAM_DEFAULT_HOLDBACK);
        else
            fd_diag_add(diag, file, r->line, "note: streams hold back up to %u bytes %s", h,
                        always ? "always (a regex joined partial matching cannot take, see "
                                 "docs/protocol.md)"
                               : "while a match of it may be in progress");
        n++;
    }
    return n;
}
