/*
 * norm.c — the text normalizer (SPEC §3.3, docs/normalization.md).
 *
 * One pass over the input. Each character is looked up in the generated
 * tables (normtab.c, built from libutf8proc and Unihan data by
 * gen/gen_normtab.c), which give its class and its image: the UTF-8 to emit
 * (NFKC_Casefold, generic diacritics removed, traditional → simplified).
 * Unmapped characters are copied from the input. ASCII takes a fast path
 * through two 128-byte tables.
 *
 * What the modes do with separators is a small state machine over the
 * classes, kept in the two loops below (one per mode, so the hot loop has
 * no mode test per character).
 */
#include "norm.h"

#include <stdlib.h>
#include <string.h>

#include "fd_error.h"
#include "normtab.h"

/* Bumped whenever the algorithm in this file changes its output. */
#define FD_NORM_REVISION "1"

/* Room kept free in the buffer at the top of each character: the longest
 * image, a break or collapsed white space byte before it, and the NUL. */
#define SLACK (FD_NT_MAX_IMAGE + 2)

static const char replacement[3] = {'\xEF', '\xBF', '\xBD'}; /* U+FFFD */

void fd_normbuf_init(fd_normbuf *b) { memset(b, 0, sizeof *b); }

void fd_normbuf_free(fd_normbuf *b) {
    free(b->text);
    free(b->map);
    memset(b, 0, sizeof *b);
}

const char *fd_norm_version(void) {
    return "filterd-norm/" FD_NORM_REVISION " unicode/" FD_NT_UNICODE_VERSION " tables/" FD_NT_DIGEST;
}

/* Make room for NEED bytes of text and NEED map entries, keeping the
 * contents. Grows geometrically so a long expanding input costs O(log n)
 * reallocations. On failure the buffer is unchanged except that one of the
 * arrays may already be larger, which is harmless (cap is the minimum). */
static int reserve(fd_normbuf *b, size_t need) {
    if (need <= b->cap) return 0;
    size_t ncap = b->cap > 256 ? b->cap : 256;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sizeof(uint32_t)) return FD_ETOOBIG;
        ncap *= 2;
    }
    char *t = realloc(b->text, ncap);
    if (!t) return FD_ENOMEM;
    b->text = t;
    uint32_t *m = realloc(b->map, ncap * sizeof *m);
    if (!m) return FD_ENOMEM;
    b->map = m;
    b->cap = ncap;
    return 0;
}

/* Decode the non-ASCII character at S (N >= 1 bytes available, S[0] >=
 * 0x80). Returns its length and sets *CP, or returns 0 for an invalid or
 * truncated sequence (overlong forms, surrogates, > U+10FFFF included), so
 * bad input degrades to U+FFFD rather than to a read past the end. */
static inline size_t decode(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t b0 = s[0];
    if (b0 < 0xC2) return 0;
    if (b0 < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
        *cp = (uint32_t)(b0 & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if (b0 < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        uint32_t c = (uint32_t)(b0 & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        *cp = c;
        return 3;
    }
    if (b0 < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        uint32_t c = (uint32_t)(b0 & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
                     (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
        if (c < 0x10000 || c > 0x10FFFF) return 0;
        *cp = c;
        return 4;
    }
    return 0;
}

/* One input character, looked up. */
typedef struct nchar {
    const char *img; /* bytes to emit (may point into the input) */
    uint32_t ilen;   /* their number */
    uint32_t clen;   /* length of the input character */
    unsigned cls;    /* FD_NC_* */
} nchar;

/* Look up the character at S (non-ASCII or ASCII; N >= 1 bytes left). */
static inline void lookup(const uint8_t *s, size_t n, nchar *c) {
    if (s[0] < 0x80) {
        c->cls = fd_nt_ascii_class[s[0]];
        c->img = &fd_nt_ascii_image[s[0]];
        c->ilen = c->clen = 1;
        return;
    }
    uint32_t cp = 0;
    size_t l = decode(s, n, &cp);
    if (l == 0) {
        c->cls = FD_NC_PUNCT;
        c->img = replacement;
        c->ilen = 3;
        c->clen = 1;
        return;
    }
    uint32_t e = fd_nt_lookup(cp);
    c->cls = FD_NT_CLASS(e);
    c->clen = (uint32_t)l;
    if (FD_NT_MAPPED(e)) {
        c->img = fd_nt_pool + FD_NT_OFF(e);
        c->ilen = FD_NT_LEN(e);
    } else {
        c->img = (const char *)s;
        c->ilen = (uint32_t)l;
    }
}

/* Append image bytes, each mapped to input offset AT. */
static inline size_t put(char *t, uint32_t *m, size_t o, const char *img, uint32_t n, uint32_t at) {
    for (uint32_t k = 0; k < n; k++) {
        t[o + k] = img[k];
        m[o + k] = at;
    }
    return o + n;
}

/*
 * FD_NORM_STRIP_SEP. Word characters are emitted (folded). Every maximal
 * run of separators (white space, line breaks, punctuation, symbols;
 * invisible characters are transparent and never end or count in a run)
 * lying between two word characters becomes either nothing (noise) or one
 * FD_NORM_BREAK byte mapped to the run's first character (break). A run is
 * a break if
 *   - it contains a line break (LF, VT, FF, CR, NEL, U+2028, U+2029), or
 *   - it contains a strong terminator: CJK (wide) terminal punctuation
 *     。，、！？；：．and their small/half-width forms, or
 *   - it contains a weak terminator (ASCII-like Terminal_Punctuation
 *     . , ! ? ; : and other scripts' stops) followed later in the same run
 *     by white space, and the word before the run is at least 2 characters
 *     long (so `U.S. Army`, `f. u. c. k` stay noise), or
 *   - it is longer than FD_NORM_MAX_NOISE characters.
 * Runs at the start or end of the text are dropped.
 */
static int norm_strip(fd_norm_state *st, const uint8_t *s, size_t len, fd_normbuf *out) {
    char *t = out->text;
    uint32_t *m = out->map;
    size_t cap = out->cap, o = out->len, i = 0;
    const uint32_t base = st->base;
    /* The pending run, in locals for the hot loop; saved back at the end. */
    size_t run = st->run;      /* separators in the pending run */
    uint32_t run_at = st->run_at; /* stream offset of its first separator */
    uint32_t run_len = st->run_len; /* and that separator's length */
    int run_brk = st->brk;     /* the pending run is already known to be a break */
    int run_term = st->term;   /* it contains a weak terminator */
    size_t seg = st->seg;      /* word characters since the last run */
    int any = st->any;         /* a word character was emitted (leading runs drop) */

#define RESOLVE_RUN()                                                  \
    do {                                                               \
        if ((run_brk || run > FD_NORM_MAX_NOISE) && any) {             \
            t[o] = FD_NORM_BREAK;                                      \
            m[o++] = run_at;                                           \
        }                                                              \
        run = 0;                                                       \
        run_brk = run_term = 0;                                        \
        seg = 0;                                                       \
    } while (0)

    while (i < len) {
        if (o + SLACK > cap) {
            out->len = o;
            int rc = reserve(out, o + SLACK + (len - i));
            if (rc) return rc;
            t = out->text;
            m = out->map;
            cap = out->cap;
        }
        uint8_t b = s[i];
        /* Fast path: a run of ASCII letters and digits, one byte each, as
         * far as the free room (at least 1 byte here) allows. */
        if (b < 0x80 && fd_nt_ascii_class[b] == FD_NC_WORD) {
            if (run) RESOLVE_RUN();
            size_t room = cap - SLACK - o + 1, lim = len - i < room ? len - i : room, k = 0;
            do {
                t[o + k] = fd_nt_ascii_image[s[i + k]];
                m[o + k] = base + (uint32_t)(i + k);
                k++;
            } while (k < lim && s[i + k] < 0x80 && fd_nt_ascii_class[s[i + k]] == FD_NC_WORD);
            o += k;
            i += k;
            seg += k;
            any = 1;
            continue;
        }
        nchar c;
        lookup(s + i, len - i, &c);
        uint32_t at = base + (uint32_t)i;
        switch (c.cls) {
        case FD_NC_WORD:
            if (run) RESOLVE_RUN();
            o = put(t, m, o, c.img, c.ilen, at);
            seg++;
            any = 1;
            break;
        case FD_NC_INVIS:
            break;
        case FD_NC_SPACE:
            if (!run++) run_at = at, run_len = c.clen;
            if (run_term && seg >= 2) run_brk = 1;
            break;
        case FD_NC_NL:
        case FD_NC_BREAK:
            if (!run++) run_at = at, run_len = c.clen;
            run_brk = 1;
            break;
        case FD_NC_TERM:
            if (!run++) run_at = at, run_len = c.clen;
            run_term = 1;
            break;
        default: /* FD_NC_PUNCT */
            if (!run++) run_at = at, run_len = c.clen;
            break;
        }
        i += c.clen;
    }
#undef RESOLVE_RUN
    /* A run is only ever counted up to just past the noise limit: what
     * matters is whether it exceeds it, and the state must stay small. */
    st->run = (uint32_t)(run > FD_NORM_MAX_NOISE + 1 ? FD_NORM_MAX_NOISE + 1 : run);
    st->run_at = run_at;
    st->run_len = run_len;
    st->brk = (uint8_t)run_brk;
    st->term = (uint8_t)run_term;
    st->seg = (uint32_t)(seg > 2 ? 2 : seg);
    st->any = (uint8_t)any;
    out->len = o;
    return 0;
}

/*
 * FD_NORM_KEEP_SEP. Word characters and punctuation/symbols are emitted
 * folded (full-width ！ becomes !); invisible characters vanish (so do the
 * few symbols whose image is empty, e.g. spacing accents ¨ ´, which would
 * otherwise fold to a bare space). A maximal run of white space and line
 * breaks (invisibles transparent) becomes one byte mapped to its first
 * character: '\n' if the run contains a line break, else ' '. Leading and
 * trailing runs are dropped, so, as in STRIP mode, normalizing a prefix of
 * a text (cut on a character boundary) gives a prefix of the normalized
 * text, with the same map: what a stream scanner needs.
 */
static int norm_keep(fd_norm_state *st, const uint8_t *s, size_t len, fd_normbuf *out) {
    char *t = out->text;
    uint32_t *m = out->map;
    size_t cap = out->cap, o = out->len, i = 0;
    const uint32_t base = st->base;
    int ws = st->run != 0;  /* a white space run is pending */
    int ws_nl = st->nl;     /* it contains a line break */
    uint32_t ws_at = st->run_at; /* stream offset of its first character */
    uint32_t ws_len = st->run_len; /* and that character's length */
    int any = st->any;      /* something was emitted (leading runs drop) */

#define FLUSH_WS()                          \
    do {                                    \
        if (any) {                          \
            t[o] = ws_nl ? '\n' : ' ';      \
            m[o++] = ws_at;                 \
        }                                   \
        ws = ws_nl = 0;                     \
    } while (0)

    while (i < len) {
        if (o + SLACK > cap) {
            out->len = o;
            int rc = reserve(out, o + SLACK + (len - i));
            if (rc) return rc;
            t = out->text;
            m = out->map;
            cap = out->cap;
        }
        uint8_t b = s[i];
        if (b < 0x80) {
            unsigned cl = fd_nt_ascii_class[b];
            if (cl == FD_NC_WORD || cl >= FD_NC_PUNCT) {
                if (ws) FLUSH_WS();
                t[o] = fd_nt_ascii_image[b];
                m[o++] = base + (uint32_t)i;
                any = 1;
            } else if (cl == FD_NC_SPACE || cl == FD_NC_NL) {
                if (!ws) {
                    ws = 1;
                    ws_at = base + (uint32_t)i;
                    ws_len = 1;
                }
                ws_nl |= cl == FD_NC_NL;
            }
            i++;
            continue;
        }
        nchar c;
        lookup(s + i, len - i, &c);
        switch (c.cls) {
        case FD_NC_INVIS:
            break;
        case FD_NC_SPACE:
        case FD_NC_NL:
            if (!ws) {
                ws = 1;
                ws_at = base + (uint32_t)i;
                ws_len = c.clen;
            }
            ws_nl |= c.cls == FD_NC_NL;
            break;
        default: /* word, punctuation, terminators */
            if (c.ilen == 0) break;
            if (ws) FLUSH_WS();
            o = put(t, m, o, c.img, c.ilen, base + (uint32_t)i);
            any = 1;
            break;
        }
        i += c.clen;
    }
    /* A trailing white space run stays pending: dropped if the text ends. */
#undef FLUSH_WS
    st->run = (uint32_t)ws;
    st->nl = (uint8_t)ws_nl;
    st->run_at = ws_at;
    st->run_len = ws_len;
    st->any = (uint8_t)any;
    out->len = o;
    return 0;
}

void fd_norm_begin(fd_norm_state *st, fd_norm_mode mode) {
    memset(st, 0, sizeof *st);
    st->mode = mode;
}

/* See norm.h. Appends; the caller's buffer keeps what it had. */
int fd_norm_feed(fd_norm_state *st, const char *in, size_t len, fd_normbuf *out) {
    if (st->mode != FD_NORM_KEEP_SEP && st->mode != FD_NORM_STRIP_SEP) return FD_EINVAL;
    if (len > UINT32_MAX - st->base) return FD_ETOOBIG;
    size_t keep = out->len;
    int rc = reserve(out, keep + len + SLACK);
    if (rc) return rc;
    const uint8_t *s = (const uint8_t *)in;
    rc = st->mode == FD_NORM_STRIP_SEP ? norm_strip(st, s, len, out) : norm_keep(st, s, len, out);
    if (rc) {
        out->len = keep;
        out->text[keep] = '\0';
        return rc;
    }
    st->base += (uint32_t)len;
    out->text[out->len] = '\0';
    return 0;
}

uint32_t fd_norm_pending(const fd_norm_state *st) {
    return st->run ? st->run_at : st->base;
}

/* See norm.h. The buffer is sized for the common case (output no longer
 * than input) up front; the loops grow it only for expanding input. A
 * whole text is a stream of one piece: what a trailing run would have
 * become is dropped with the state. */
int fd_norm(const char *in, size_t len, fd_norm_mode mode, fd_normbuf *out) {
    out->len = 0;
    if (out->text) out->text[0] = '\0';
    if (mode != FD_NORM_KEEP_SEP && mode != FD_NORM_STRIP_SEP) return FD_EINVAL;
    if (len > UINT32_MAX) return FD_ETOOBIG;
    fd_norm_state st;
    fd_norm_begin(&st, mode);
    int rc = fd_norm_feed(&st, in, len, out);
    if (rc) {
        out->len = 0;
        if (out->text) out->text[0] = '\0';
    }
    return rc;
}

int fd_norm_word_at(const char *text, size_t len, size_t off) {
    if (off >= len) return 0;
    nchar c;
    lookup((const uint8_t *)text + off, len - off, &c);
    return c.cls == FD_NC_WORD;
}

int fd_norm_word_before(const char *text, size_t off) {
    if (off == 0) return 0;
    size_t start = off - 1;
    /* Step back over at most 3 continuation bytes to the lead byte. */
    while (start > 0 && off - start < 4 && ((uint8_t)text[start] & 0xC0) == 0x80) start--;
    return fd_norm_word_at(text, off, start);
}
