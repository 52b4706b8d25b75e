/*
 * norm.c — the text normalizer (SPEC §3.3, rules/README.md §5).
 *
 * One pass over the input. Each character is looked up in the generated
 * tables (normtab.c, built from libutf8proc and Unihan data by
 * gen/gen_normtab.c), which give its class and its image: the UTF-8 to emit
 * (NFKC_Casefold, generic diacritics removed, traditional → simplified).
 * Unmapped characters are copied from the input.
 *
 * What the modes do with separators is a small state machine over the
 * classes. Both machines live in one loop, norm_core(), instantiated three
 * times with constant flags (KEEP only, STRIP only, both at once), so each
 * instance has no mode test per character and fd_norm_both() pays for one
 * decode and lookup per character instead of two.
 *
 * This is the hot path of every check, so the loop has fast paths for what
 * real text is made of:
 *   - ASCII prose, up to 64 bytes at a time (SSE2 where available): bytes
 *     classified into 64-bit masks, separator runs decided for all runs at
 *     once with mask arithmetic, words and KEEP spans copied 16 bytes and
 *     16 map entries per store block (see ascii_window);
 *   - runs of ASCII letters/digits, folded 8 bytes at a time (SWAR), with
 *     the single space between two words handled in line;
 *   - runs of one white space byte (indentation), counted at once;
 *   - 3-byte characters that are their own image (most simplified Chinese;
 *     box drawing, quotes), copied after one bitmap test each, and strong
 *     terminators (。，、！？) stepped after one without the class switch;
 *   - no capacity test per character: room for a slice of input at the
 *     worst-case expansion (FD_NT_MAX_GROWTH) is reserved up front.
 * Measured on 1 KiB messages of the fortunes corpora, fd_norm_both() is
 * about 3x faster than the two fd_norm() calls it replaces were; the ASCII
 * windows made it another ~1.2x faster there (~1.6x on English text).
 * Everything else takes the general step, which every fast path must
 * agree with byte for byte (tests/unit/test_norm.c checks this against a
 * copy of the simple one-loop-per-mode implementation).
 */
#include "norm.h"

#include <stdlib.h>
#include <string.h>

#include "fd_error.h"
#include "normtab.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define FD_NORM_WINDOW 1 /* the ASCII window fast path (below) */
#else
#define FD_NORM_WINDOW 0
#endif

/* Bumped whenever the algorithm in this file changes its output. */
#define FD_NORM_REVISION "2"

#if defined(__GNUC__)
#define FD_INLINE   inline __attribute__((always_inline))
#define FD_NOINLINE __attribute__((noinline))
#else
#define FD_INLINE inline
#define FD_NOINLINE
#endif

/* Most output bytes one input byte can become: the longest image per byte
 * of its character, and an invalid byte's U+FFFD (3 bytes). A pending
 * separator run's one byte is charged to the run's first character (which
 * itself emits nothing), so this bounds the whole output. */
#define GROWTH (FD_NT_MAX_GROWTH > 3 ? FD_NT_MAX_GROWTH : 3)

/* Input is processed in slices of at most this many bytes, each with room
 * reserved up front for GROWTH times its length: large enough that the
 * reservation is rare, small enough that a huge input does not reserve
 * ten times its size at once. */
#define SLICE 16384

/* Room beyond the worst case: the fast paths store whole blocks of text
 * bytes / map entries (up to 15 past the output they keep: copy_span) and
 * keep only some, and a last character may start just before the slice
 * end; plus a pending run's byte and the NUL. */
#define OVERRUN       16
#define SLICE_ROOM(n) (((n) + 8) * GROWTH + OVERRUN)

static const char replacement[3] = {'\xEF', '\xBF', '\xBD'}; /* U+FFFD */

void fd_normbuf_init(fd_normbuf *b)
{
    memset(b, 0, sizeof *b);
}

void fd_normbuf_free(fd_normbuf *b)
{
    free(b->text);
    free(b->map);
    free(b->gap);
    memset(b, 0, sizeof *b);
}

const char *fd_norm_version(void)
{
    return "filterd-norm/" FD_NORM_REVISION " unicode/" FD_NT_UNICODE_VERSION
           " tables/" FD_NT_DIGEST;
}

/* Make room for NEED bytes of text and NEED map entries, keeping the
 * contents. Grows geometrically so a long expanding input costs O(log n)
 * reallocations. On failure the buffer is unchanged except that one of the
 * arrays may already be larger, which is harmless (cap is the minimum). */
static int reserve(fd_normbuf *b, size_t need)
{
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap > 256 ? b->cap : 256;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sizeof(uint32_t))
            return FD_ETOOBIG;
        ncap *= 2;
    }
    char *t = realloc(b->text, ncap);
    if (!t)
        return FD_ENOMEM;
    b->text = t;
    uint32_t *m = realloc(b->map, ncap * sizeof *m);
    if (!m)
        return FD_ENOMEM;
    b->map = m;
    uint8_t *g = realloc(b->gap, ncap);
    if (!g)
        return FD_ENOMEM;
    b->gap = g;
    b->cap = ncap;
    return 0;
}

/* Decode the non-ASCII character at S (N >= 1 bytes available, S[0] >=
 * 0x80). Returns its length and sets *CP, or returns 0 for an invalid or
 * truncated sequence (overlong forms, surrogates, > U+10FFFF included), so
 * bad input degrades to U+FFFD rather than to a read past the end. What it
 * accepts is exactly RFC 3629 UTF-8, as fd_utf8_check(): that is what lets
 * fd_norm_both_checked() stand in for a separate validation pass. */
static FD_INLINE size_t decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t b0 = s[0];
    if (b0 < 0xC2)
        return 0;
    if (b0 < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        *cp = (uint32_t)(b0 & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if (b0 < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        uint32_t c = (uint32_t)(b0 & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        if (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        *cp = c;
        return 3;
    }
    if (b0 < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        uint32_t c = (uint32_t)(b0 & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
                     (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
        if (c < 0x10000 || c > 0x10FFFF)
            return 0;
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
    int wide;        /* a wide word character */
    int bad;         /* an invalid byte, read as U+FFFD */
} nchar;

/* Look up the character at S (non-ASCII or ASCII; N >= 1 bytes left). */
static FD_INLINE void lookup(const uint8_t *s, size_t n, nchar *c)
{
    c->bad = 0;
    c->wide = 0;
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
        c->bad = 1;
        return;
    }
    uint32_t e = fd_nt_lookup(cp);
    c->cls = FD_NT_CLASS(e);
    c->wide = (int)FD_NT_WIDE(e);
    c->clen = (uint32_t)l;
    if (FD_NT_MAPPED(e)) {
        c->img = fd_nt_pool + FD_NT_OFF(e);
        c->ilen = FD_NT_LEN(e);
    } else {
        c->img = (const char *)s;
        c->ilen = (uint32_t)l;
    }
}

/* Append image bytes, each mapped to input offset AT. Images of one
 * character (1-4 bytes) are the common case: their map entries are written
 * as one 4-entry block (room for the extra entries is in OVERRUN). */
static FD_INLINE size_t put(char *t, uint32_t *m, size_t o, const char *img, uint32_t n,
                            uint32_t at)
{
    if (n <= 4) {
        for (int k = 0; k < 4; k++)
            m[o + k] = at;
        for (uint32_t k = 0; k < n; k++)
            t[o + k] = img[k];
        return o + n;
    }
    for (uint32_t k = 0; k < n; k++) {
        t[o + k] = img[k];
        m[o + k] = at;
    }
    return o + n;
}

/* ASCII letters and digits, 8 bytes at a time. For the word X (8 input
 * bytes, little- or big-endian alike), returns a mask with the high bit of
 * each byte that is NOT an ASCII letter or digit, and sets *FOLDED to X
 * with A-Z turned to a-z. gen_normtab checks that these are exactly the
 * ASCII word characters and their images, so this agrees with the tables.
 * Per byte v (7 bits), v + (0x80 - lo) has its high bit set iff v >= lo,
 * and v + (0x7F - hi) iff v > hi; no carry crosses bytes. */
#define B8(c) (0x0101010101010101ull * (uint8_t)(c))
static FD_INLINE uint64_t ascii_alnum8(uint64_t x, uint64_t *folded)
{
    uint64_t v = x & B8(0x7F);
    uint64_t digit = (v + B8(0x80 - '0')) & ~(v + B8(0x7F - '9'));
    uint64_t l = v | B8(0x20); /* A-Z → a-z; nothing else lands in a-z */
    uint64_t alpha = (l + B8(0x80 - 'a')) & ~(l + B8(0x7F - 'z'));
    uint64_t upper = (v + B8(0x80 - 'A')) & ~(v + B8(0x7F - 'Z')) & ~x & B8(0x80);
    *folded = x | upper >> 2; /* 0x80 >> 2 == 0x20 */
    return ~((digit | alpha) & ~x) & B8(0x80);
}

/* Index of the first byte whose high bit is set in the non-zero mask M of
 * 8 bytes as loaded by memcpy (byte 0 first in memory). */
static FD_INLINE unsigned first_byte(uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (unsigned)__builtin_clzll(m) / 8;
#else
    return (unsigned)__builtin_ctzll(m) / 8;
#endif
}

/* Map entries AT, AT+1, ..., AT+7 at M (a plain loop: compilers make it
 * two vector stores). */
static FD_INLINE void iota8(uint32_t *m, uint32_t at)
{
    for (uint32_t k = 0; k < 8; k++)
        m[k] = at + k;
}

/*
 * The two machines, per character class (rules/README.md §5):
 *
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
 *
 * FD_NORM_KEEP_SEP. Word characters and punctuation/symbols are emitted
 * folded (full-width ！ becomes !); invisible characters vanish (so do the
 * few symbols whose image is empty, e.g. spacing accents ¨ ´, which would
 * otherwise fold to a bare space). A maximal run of white space and line
 * breaks (invisibles transparent) becomes one byte mapped to its first
 * character: '\n' if the run contains a line break, else ' '. Leading and
 * trailing runs are dropped, so, as in STRIP mode, normalizing a prefix of
 * a text (cut on a character boundary) gives a prefix of the normalized
 * text, with the same map: what a stream scanner needs.
 *
 * In both modes a pending run is only decided when the next emitted
 * character arrives, so it survives the end of a piece in the state.
 */

/* The state of both machines and their output cursors, as locals of
 * norm_core(); the step functions below take it by pointer and are always
 * inlined, so it stays in registers. K/S say which machines run. */
typedef struct machines {
    /* KEEP */
    char *kt; /* output text and map arrays, write position */
    uint32_t *km;
    size_t ko;
    int ws;          /* a white space run is pending */
    int ws_nl;       /* it contains a line break */
    uint32_t ws_at;  /* stream offset of its first character */
    uint32_t ws_len; /* and that character's length */
    int kany;        /* something was emitted (leading runs drop) */
    /* STRIP */
    char *st;
    uint32_t *sm;
    uint8_t *sg; /* gap flags (fd_normbuf.gap) */
    size_t so;
    size_t run;       /* separators in the pending run */
    uint32_t run_at;  /* stream offset of its first separator */
    uint32_t run_len; /* and that separator's length */
    int brk;          /* the pending run is already known to be a break */
    int term;         /* it contains a weak terminator */
    size_t seg;       /* word characters since the last run */
    int sany;         /* a word character was emitted (leading runs drop) */
    int wprev;        /* the last word character was wide */
    int clause;       /* the pending run holds an ASCII clause mark , or ; */
} machines;

/* KEEP, before an emitted character: the pending white space run becomes
 * its one byte (or nothing at the start of the text) and is closed. */
static FD_INLINE void keep_flush(machines *x)
{
    if (x->ws) {
        if (x->kany) {
            x->kt[x->ko] = x->ws_nl ? '\n' : ' ';
            x->km[x->ko++] = x->ws_at;
        }
        x->ws = x->ws_nl = 0;
    }
}

/* STRIP, before a word character (WIDE: a wide one): the pending
 * separator run becomes a break byte or nothing, and is closed; a new word
 * segment starts. Returns the gap flag of the word character: 1 when the
 * run was dropped as noise. An ASCII clause mark (, or ;) between two
 * wide characters is a break: Chinese typed with ASCII punctuation puts
 * no space after it (`出售,枪支`), so the mark is the only boundary. */
static FD_INLINE int strip_resolve(machines *x, int wide)
{
    int g = 0;
    if (x->run) {
        if ((x->brk || x->run > FD_NORM_MAX_NOISE || (x->clause && x->wprev && wide)) && x->sany) {
            x->st[x->so] = FD_NORM_BREAK;
            x->sg[x->so] = 0;
            x->sm[x->so++] = x->run_at;
        } else {
            g = x->sany;
        }
        x->run = 0;
        x->brk = x->term = x->clause = 0;
        x->seg = 0;
    }
    x->wprev = wide;
    return g;
}

/* Both machines, before a word character with a non-empty image; returns
 * its STRIP gap flag. */
static FD_INLINE int word_start(const int K, const int S, machines *x, int wide)
{
    int g = 0;
    if (K) {
        keep_flush(x);
        x->kany = 1;
    }
    if (S) {
        g = strip_resolve(x, wide);
        x->sany = 1;
    }
    return g;
}

/* An apostrophe image: ' (also from ＇) or U+2019 ’. */
static FD_INLINE int is_apostrophe(const char *img, uint32_t ilen)
{
    return (ilen == 1 && img[0] == '\'') ||
           (ilen == 3 && img[0] == '\xE2' && img[1] == '\x80' && img[2] == '\x99');
}

/* STRIP: gap flags of an image of N bytes just written at O (first byte G,
 * the others 0). Up to 4 bytes are written (room is in OVERRUN). */
static FD_INLINE void put_gap(uint8_t *gp, size_t o, uint32_t n, int g)
{
    if (n <= 4) {
        memset(gp + o, 0, 4);
    } else {
        memset(gp + o, 0, n);
    }
    gp[o] = (uint8_t)g;
}

/* A separator joins (or starts) the STRIP run / the KEEP white space run. */
static FD_INLINE void strip_sep(machines *x, uint32_t at, uint32_t clen)
{
    if (!x->run++)
        x->run_at = at, x->run_len = clen;
}

static FD_INLINE void keep_ws(machines *x, uint32_t at, uint32_t clen)
{
    if (!x->ws)
        x->ws = 1, x->ws_at = at, x->ws_len = clen;
}

/* The general step: one input character of class CLS at stream offset AT,
 * CLEN bytes long, whose image is IMG (ILEN bytes), through both machines.
 * Every fast path in norm_core() must be equivalent to this. */
static FD_INLINE void step(const int K, const int S, machines *x, unsigned cls, const char *img,
                           uint32_t ilen, uint32_t clen, uint32_t at, int wide)
{
    switch (cls) {
    case FD_NC_WORD:
        if (S) {
            int g = strip_resolve(x, wide);
            put_gap(x->sg, x->so, ilen, g);
            x->so = put(x->st, x->sm, x->so, img, ilen, at);
            x->seg++;
            x->sany = 1;
        }
        if (K && ilen) {
            keep_flush(x);
            x->ko = put(x->kt, x->km, x->ko, img, ilen, at);
            x->kany = 1;
        }
        break;
    case FD_NC_INVIS:
        break;
    case FD_NC_SPACE:
        if (S) {
            strip_sep(x, at, clen);
            if (x->term && x->seg >= 2)
                x->brk = 1;
        }
        if (K)
            keep_ws(x, at, clen);
        break;
    case FD_NC_NL:
        if (S) {
            strip_sep(x, at, clen);
            x->brk = 1;
        }
        if (K) {
            keep_ws(x, at, clen);
            x->ws_nl = 1;
        }
        break;
    default: /* FD_NC_PUNCT, FD_NC_TERM, FD_NC_BREAK */
        if (S) {
            strip_sep(x, at, clen);
            if (cls == FD_NC_BREAK)
                x->brk = 1;
            else if (cls == FD_NC_TERM)
                x->term = 1;
            if (ilen == 1 && (img[0] == ',' || img[0] == ';'))
                x->clause = 1;
            /* An apostrophe after a word of 2 or more characters ends it:
             * contractions (`who're`, `we'll`) are two words, not noise. */
            if (x->seg >= 2 && is_apostrophe(img, ilen))
                x->brk = 1;
        }
        if (K && ilen) {
            keep_flush(x);
            x->ko = put(x->kt, x->km, x->ko, img, ilen, at);
            x->kany = 1;
        }
        break;
    }
}

/* Append the 3-byte character at S + I (valid, its own image), mapped to
 * AT. 4 bytes are copied when readable, as one store: the extra byte is
 * overwritten next or lies past the end (room is in OVERRUN). */
static FD_INLINE size_t copy3(char *t, uint32_t *m, size_t o, const uint8_t *s, size_t i,
                              size_t len, uint32_t at)
{
    if (i + 4 <= len)
        memcpy(t + o, s + i, 4);
    else
        memcpy(t + o, s + i, 3);
    for (int k = 0; k < 4; k++)
        m[o + k] = at;
    return o + 3;
}

/* The 3-byte character at P (3 bytes readable): its code point, or 0 if it
 * is not valid UTF-8 (bad continuation, overlong, surrogate), which then
 * takes the general step. No valid 3-byte character is U+0000. */
static FD_INLINE uint32_t decode3(const uint8_t *p)
{
    uint32_t c = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
    if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return c;
}

#if FD_NORM_WINDOW
/*
 * ASCII windows: up to 64 bytes of ASCII text through both machines at
 * once, with SSE2 classification and 64-bit masks (bit j: byte j) instead
 * of one branch per byte, word or separator.
 *
 * Contract. Called at offset AT of the stream with P pointing at the 64
 * bytes of the window, WINDOW_READ of them readable (the input, or a copy
 * of its last bytes padded with 0x80, a byte that ends the window)
 * and with the machines that run in a settled state: nothing pending
 * (KEEP: no white space run, STRIP: no separator run) and something
 * already emitted (kany, sany). It takes the longest prefix of the window
 * that (a) holds only ASCII word characters [0-9A-Za-z] and separators
 * (white space, line breaks, punctuation: no invisible control byte, no
 * byte >= 0x80) and (b) ends with a word character, runs it, and returns
 * its length N (0: no such prefix, nothing done). Since the prefix ends
 * with a word character, every separator run in it is closed inside it,
 * so its fate is known from the prefix alone and the machines leave it
 * settled again, with the state the general step would leave (run_at and
 * ws_at are then stale, and norm_core() saves them as 0).
 *
 * Why it equals the general step over the same bytes (gen_normtab checks
 * the ASCII classes and images assumed here; the build fails otherwise):
 *   KEEP. Word characters and punctuation are emitted as their one-byte
 *   image (letters folded). A white space run becomes one byte at its first
 *   position, '\n' if it holds a line break, else ' ': so the output is the
 *   window's image (letters folded, blanks to ' ', line breaks to '\n')
 *   with the 2nd and later bytes of each white space run left out, and the
 *   run's first byte set to '\n' if a later byte of the run is a line
 *   break. The map of a kept byte is its own offset.
 *   STRIP. Word characters are emitted (folded), mapped to themselves;
 *   separators never are. A run (maximal, between two word characters:
 *   sany holds and the prefix ends with a word) becomes FD_NORM_BREAK,
 *   mapped to its first separator, emitted before the next word, iff
 *     - it holds a line break, or
 *     - it is longer than FD_NORM_MAX_NOISE, or
 *     - a blank follows a weak terminator in it and the word before it has
 *       at least 2 characters (seg >= 2 at the blank: seg only changes at
 *       words). Only runs up to FD_NORM_MAX_NOISE long need this test, so
 *       a terminator up to FD_NORM_MAX_NOISE - 1 places back is enough,
 *       or it holds an apostrophe and the word before it has at least 2
 *       characters.
 *     (No ASCII character is a strong terminator, and the comma rule
 *     between wide characters never applies: the next word is ASCII.)
 * "Run R holds a bit of F" for all runs at once: with F a subset of the
 * run mask R, R + F carries from each such bit to just past its run, so
 * (R + F) & ~R has a bit exactly at the word after each run holding F.
 */
static FD_INLINE uint64_t mask16(__m128i m, int k)
{
    return (uint64_t)(uint16_t)_mm_movemask_epi8(m) << (16 * k);
}

static FD_INLINE unsigned ctz64(uint64_t m)
{
    return (unsigned)__builtin_ctzll(m);
}
static FD_INLINE unsigned top64(uint64_t m)
{
    return 63u - (unsigned)__builtin_clzll(m);
}

#define V8(c) _mm_set1_epi8((char)(c))
/* Byte masks of 16 bytes. Signed compares: bytes >= 0x80 are negative, so
 * below every range tested here (and "< 0x20", a cut, includes them). */
static FD_INLINE __m128i in_range(__m128i v, char lo, char hi)
{
    return _mm_and_si128(_mm_cmpgt_epi8(v, V8(lo - 1)), _mm_cmplt_epi8(v, V8(hi + 1)));
}
static FD_INLINE __m128i is_blank(__m128i v)
{
    return _mm_or_si128(_mm_cmpeq_epi8(v, V8(' ')), _mm_cmpeq_epi8(v, V8('\t')));
}
/* The KEEP image of V: A-Z folded to a-z, blanks ' ', line breaks '\n'. */
static FD_INLINE __m128i image16(__m128i v)
{
    __m128i bl = is_blank(v), nl = in_range(v, '\n', '\r');
    v = _mm_or_si128(v, _mm_and_si128(in_range(v, 'A', 'Z'), V8(0x20)));
    v = _mm_or_si128(_mm_andnot_si128(bl, v), _mm_and_si128(bl, V8(' ')));
    return _mm_or_si128(_mm_andnot_si128(nl, v), _mm_and_si128(nl, V8('\n')));
}

/* Append the KEEP images of the window bytes P[FROM..TO), mapped to
 * AT + FROM.., 16 at a time, recomputed from the input (re-reading a
 * stored image at another alignment would stall on store forwarding). Up
 * to 15 bytes/entries past the new end are written too (see OVERRUN), and
 * P is read up to TO + 15 < WINDOW_READ. */
static FD_INLINE size_t copy_span(char *t, uint32_t *m, size_t o, const uint8_t *p, unsigned from,
                                  unsigned to, uint32_t at)
{
    const __m128i four = _mm_set1_epi32(4);
    for (unsigned k = from; k < to; k += 16) {
        size_t d = o + (k - from);
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
        _mm_storeu_si128((__m128i *)(void *)(t + d), image16(v));
        __m128i a = _mm_add_epi32(_mm_set1_epi32((int)(at + k)), _mm_setr_epi32(0, 1, 2, 3));
        _mm_storeu_si128((__m128i *)(void *)(m + d), a);
        a = _mm_add_epi32(a, four);
        _mm_storeu_si128((__m128i *)(void *)(m + d + 4), a);
        a = _mm_add_epi32(a, four);
        _mm_storeu_si128((__m128i *)(void *)(m + d + 8), a);
        a = _mm_add_epi32(a, four);
        _mm_storeu_si128((__m128i *)(void *)(m + d + 12), a);
    }
    return o + (to - from);
}

/* Bytes readable at a window's start: its 64 and the 16-byte block read
 * from its last word byte. */
#define WINDOW_READ 80

/* The output cursors and STRIP's word length, in and out. */
typedef struct wcur {
    size_t ko, so, seg;
} wcur;

static FD_INLINE size_t ascii_window(const int K, const int S, char *kt, uint32_t *km, char *st,
                                     uint32_t *sm, uint8_t *sg, wcur *x, const uint8_t *p,
                                     uint32_t at)
{
    uint64_t W = 0, BL = 0, NL = 0, TM = 0, AP = 0, CUT = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i bl = is_blank(v), nl = in_range(v, '\n', '\r');
        __m128i w =
            _mm_or_si128(in_range(v, '0', '9'), in_range(_mm_or_si128(v, V8(0x20)), 'a', 'z'));
        __m128i cut =
            _mm_or_si128(_mm_andnot_si128(_mm_or_si128(bl, nl), _mm_cmplt_epi8(v, V8(0x20))),
                         _mm_cmpeq_epi8(v, V8(0x7F)));
        W |= mask16(w, k);
        BL |= mask16(bl, k);
        NL |= mask16(nl, k);
        CUT |= mask16(cut, k);
        if (S) {
            __m128i tm = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, V8('!')), _mm_cmpeq_epi8(v, V8(','))),
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, V8('.')), _mm_cmpeq_epi8(v, V8('?'))),
                             in_range(v, ':', ';')));
            TM |= mask16(tm, k);
            AP |= mask16(_mm_cmpeq_epi8(v, V8('\'')), k);
        }
    }
    /* The prefix: up to the first cut byte, ending with a word byte. */
    uint64_t lim = CUT ? (CUT & -CUT) - 1 : ~0ull;
    W &= lim;
    if (!W)
        return 0;
    unsigned n = top64(W) + 1;
    uint64_t valid = n == 64 ? ~0ull : (1ull << n) - 1;
    uint64_t R = valid & ~W; /* separators */
    BL &= valid;
    NL &= valid;
    TM &= valid;
    AP &= valid;

    if (K) {
        /* Gaps: white space bytes after the first of their run. */
        uint64_t ws = BL | NL, gap = ws & (ws << 1);
        size_t o = x->ko;
        unsigned pos = 0;
        while (gap) {
            unsigned g0 = ctz64(gap);               /* >= 1: after its run's first byte */
            unsigned g1 = g0 + ctz64(~(gap >> g0)); /* < n: the prefix ends with a word */
            o = copy_span(kt, km, o, p, pos, g0, at);
            if (NL & (((1ull << (g1 - g0)) - 1) << g0))
                kt[o - 1] = '\n';
            pos = g1;
            gap &= ~0ull << g1;
        }
        x->ko = copy_span(kt, km, o, p, pos, n, at);
    }
    if (S) {
        uint64_t rs = R & ~(R << 1); /* run starts */
        uint64_t lng = R;            /* bytes past the FD_NORM_MAX_NOISE-th of a run */
        for (int k = 1; k <= FD_NORM_MAX_NOISE; k++)
            lng &= R << k;
        uint64_t tp = TM; /* at or after a terminator, within FD_NORM_MAX_NOISE - 1 */
        for (int k = 1; k < FD_NORM_MAX_NOISE; k++)
            tp |= (tp << 1) & R;
        /* Runs starting after a word of >= 2 characters (seg carries in). */
        uint64_t seg2 = (W << 1) & (W << 2);
        seg2 |= (uint64_t)(x->seg >= 2) | ((W & (uint64_t)(x->seg >= 1)) << 1);
        uint64_t brk = ((R + (NL | lng)) | ((R + ((BL & tp) | AP)) & (R + (rs & seg2)))) & ~R;
        uint64_t start = W & ~(W << 1), end = W & ~(W >> 1);
        char *t = st + x->so;
        uint32_t *m = sm + x->so;
        uint8_t *g = sg + x->so;
        const __m128i zero = _mm_setzero_si128();
        const __m128i four = _mm_set1_epi32(4);
        const __m128i iota = _mm_add_epi32(_mm_set1_epi32((int)at), _mm_setr_epi32(0, 1, 2, 3));
        do { /* per word: W is not empty */
            unsigned q = ctz64(start), e = ctz64(end) + 1;
            /* The break byte, stored always, kept if the run before the
             * word (its start: the last run start below q) is a break. */
            *t = FD_NORM_BREAK;
            *m = at + top64((rs & (start - 1)) | 1);
            *g = 0;
            size_t kb = (brk >> q) & 1;
            t += kb;
            m += kb;
            g += kb;
            /* Gap flag of the word's first byte: a run before it in the
             * window (q > 0) that was noise. */
            uint8_t g0 = (uint8_t)(q > 0 && !kb);
            /* The word, 16 bytes at a time (see copy_span). */
            unsigned k = q;
            do {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
                /* Word bytes: letters and digits, whose fold is v | 0x20
                 * (digits already have that bit); the bytes after the
                 * word are overwritten or ignored. */
                _mm_storeu_si128((__m128i *)(void *)(t + (k - q)), _mm_or_si128(v, V8(0x20)));
                _mm_storeu_si128((__m128i *)(void *)(g + (k - q)), zero);
                __m128i a = _mm_add_epi32(iota, _mm_set1_epi32((int)k));
                uint32_t *mk = m + (k - q);
                _mm_storeu_si128((__m128i *)(void *)mk, a);
                a = _mm_add_epi32(a, four);
                _mm_storeu_si128((__m128i *)(void *)(mk + 4), a);
                a = _mm_add_epi32(a, four);
                _mm_storeu_si128((__m128i *)(void *)(mk + 8), a);
                a = _mm_add_epi32(a, four);
                _mm_storeu_si128((__m128i *)(void *)(mk + 12), a);
                k += 16;
            } while (k < e);
            *g = g0;
            t += e - q;
            m += e - q;
            g += e - q;
            start &= start - 1;
            end &= end - 1;
        } while (start);
        x->so = (size_t)(t - st);
        x->seg = R ? n - (top64(R) + 1) : x->seg + n; /* the last word's length */
    }
    return n;
}
#undef V8

/* The three instances, kept out of line so that norm_core()'s own loop
 * keeps its registers (the window needs many). */
static FD_NOINLINE size_t window_k(char *kt, uint32_t *km, wcur *x, const uint8_t *p, uint32_t at)
{
    return ascii_window(1, 0, kt, km, NULL, NULL, NULL, x, p, at);
}
static FD_NOINLINE size_t window_s(char *st, uint32_t *sm, uint8_t *sg, wcur *x, const uint8_t *p,
                                   uint32_t at)
{
    return ascii_window(0, 1, NULL, NULL, st, sm, sg, x, p, at);
}
static FD_NOINLINE size_t window_ks(char *kt, uint32_t *km, char *st, uint32_t *sm, uint8_t *sg,
                                    wcur *x, const uint8_t *p, uint32_t at)
{
    return ascii_window(1, 1, kt, km, st, sm, sg, x, p, at);
}
#endif

/*
 * The normalizer proper: one loop over IN (LEN bytes) that runs the KEEP
 * machine (if K) into KB with state KST and the STRIP machine (if S) into SB
 * with state SST. K and S are constants at each call site (norm_keep,
 * norm_strip, norm_both), so every instance is specialised. Appends to
 * the buffers; the states are read at entry and written back only on
 * success, so on error (FD_ENOMEM, FD_ETOOBIG from reserve) they are
 * unchanged and the caller restores the buffers' lengths. Sets *BAD if an
 * invalid UTF-8 sequence was seen (it is still normalized, as U+FFFD).
 *
 * The loop dispatches on the lead byte to three inner loops that stay put
 * while the text stays of one kind, because switching kinds is where the
 * branch mispredictions are: ASCII (64-byte windows when both machines
 * are settled and at least 16 ASCII bytes follow, else word runs 8 bytes
 * at a time and other bytes one step each), 3-byte characters (own-image
 * word characters and punctuation copied after a bitmap test, strong
 * terminators stepped after one, others one lookup and step each), and
 * the rest (2- and 4-byte characters, invalid bytes).
 */
static FD_INLINE int norm_core(const int K, const int S, fd_norm_state *kst, fd_norm_state *sst,
                               const uint8_t *s, size_t len, fd_normbuf *kb, fd_normbuf *sb,
                               int *bad)
{
    const uint32_t base = K ? kst->base : sst->base;
    machines x;
    memset(&x, 0, sizeof x);
    if (K) {
        x.ko = kb->len;
        x.ws = kst->run != 0;
        x.ws_nl = kst->nl;
        x.ws_at = kst->run_at;
        x.ws_len = kst->run_len;
        x.kany = kst->any;
    }
    if (S) {
        x.so = sb->len;
        x.run = sst->run;
        x.run_at = sst->run_at;
        x.run_len = sst->run_len;
        x.brk = sst->brk;
        x.term = sst->term;
        x.seg = sst->seg;
        x.sany = sst->any;
        x.wprev = sst->wide;
        x.clause = sst->clause;
    }
    size_t i = 0;
    int badc = 0;

    while (i < len) {
        /* Room for the worst case of this slice: no test per character. */
        size_t stop = len - i > SLICE ? i + SLICE : len;
        if (K) {
            kb->len = x.ko;
            int rc = reserve(kb, x.ko + SLICE_ROOM(stop - i));
            if (rc)
                return rc;
            x.kt = kb->text;
            x.km = kb->map;
        }
        if (S) {
            sb->len = x.so;
            int rc = reserve(sb, x.so + SLICE_ROOM(stop - i));
            if (rc)
                return rc;
            x.st = sb->text;
            x.sm = sb->map;
            x.sg = sb->gap;
        }
        while (i < stop) {
            uint8_t b = s[i];
            if (b < 0x80) {
                /* ASCII text: windows, word runs and single separator
                 * steps. */
                for (;;) {
#if FD_NORM_WINDOW
                    /* A window, when both machines are settled and the
                     * next 16 bytes are ASCII (shorter ASCII stretches
                     * between other characters are not worth one). */
                    if ((!K || (!x.ws && x.kany)) && (!S || (!x.run && x.sany)) && stop - i >= 16 &&
                        !_mm_movemask_epi8(
                            _mm_loadu_si128((const __m128i *)(const void *)(s + i)))) {
                        /* Near the end of the slice, a copy padded with
                         * 0x80 (a cut byte). */
                        const uint8_t *p = s + i;
                        uint8_t pad[WINDOW_READ];
                        if (stop - i < WINDOW_READ) {
                            memcpy(pad, s + i, stop - i);
                            memset(pad + (stop - i), 0x80, WINDOW_READ - (stop - i));
                            p = pad;
                        }
                        wcur c = {x.ko, x.so, x.seg};
                        uint32_t at = base + (uint32_t)i;
                        size_t n = K && S ? window_ks(x.kt, x.km, x.st, x.sm, x.sg, &c, p, at)
                                   : K    ? window_k(x.kt, x.km, &c, p, at)
                                          : window_s(x.st, x.sm, x.sg, &c, p, at);
                        x.ko = c.ko, x.so = c.so, x.seg = c.seg;
                        if (n) {
                            x.wprev = 0; /* the window ends with an ASCII word */
                            i += n;
                            if (i >= stop || (b = s[i]) >= 0x80)
                                break;
                            continue;
                        }
                    }
#endif
                    if (fd_nt_ascii_class[b] == FD_NC_SPACE) {
                        /* A run of one white space byte (indentation,
                         * alignment): K steps of FD_NC_SPACE at once. */
                        size_t k = 1;
                        while (i + k < stop && s[i + k] == b)
                            k++;
                        uint32_t at = base + (uint32_t)i;
                        if (S) {
                            strip_sep(&x, at, 1);
                            x.run += k - 1;
                            if (x.term && x.seg >= 2)
                                x.brk = 1;
                        }
                        if (K)
                            keep_ws(&x, at, 1);
                        i += k;
                    } else if (fd_nt_ascii_class[b] != FD_NC_WORD) {
                        step(K, S, &x, fd_nt_ascii_class[b], &fd_nt_ascii_image[b], 1, 1,
                             base + (uint32_t)i, 0);
                        i++;
                    } else {
                        /* Letters and digits: 8 bytes stored at once,
                         * as many kept as are word bytes. A full block
                         * advances by a constant, so the next load does
                         * not wait for this one's mask. */
                        /* G: the STRIP gap flag of the next word's first
                         * byte. */
                        int g = word_start(K, S, &x, 0);
                        while (i + 8 <= len && i < stop) {
                            uint64_t w, f;
                            memcpy(&w, s + i, 8);
                            uint64_t nonword = ascii_alnum8(w, &f);
                            uint32_t at = base + (uint32_t)i;
                            if (K)
                                memcpy(x.kt + x.ko, &f, 8), iota8(x.km + x.ko, at);
                            if (S) {
                                static const uint64_t zero8 = 0;
                                memcpy(x.st + x.so, &f, 8), iota8(x.sm + x.so, at);
                                memcpy(x.sg + x.so, &zero8, 8);
                                x.sg[x.so] = (uint8_t)g;
                                g = 0;
                            }
                            if (!nonword) {
                                x.ko += 8, x.so += 8, x.seg += 8, i += 8;
                                continue;
                            }
                            size_t n = first_byte(nonword);
                            x.ko += n, x.so += n, x.seg += n, i += n;
                            /* The commonest separator, one space between
                             * two words, in line: for KEEP a ' ' mapped to
                             * itself, for STRIP a one-character run, which
                             * is noise (no terminator before it). */
                            if (s[i] != ' ' || i + 1 >= len || s[i + 1] >= 0x80 ||
                                fd_nt_ascii_class[s[i + 1]] != FD_NC_WORD)
                                goto word_end;
                            if (K)
                                x.kt[x.ko] = ' ', x.km[x.ko++] = base + (uint32_t)i;
                            if (S)
                                x.seg = 0, g = 1;
                            i++;
                        }
                        /* The last few bytes of the input, one at a time. */
                        while (i < len && s[i] < 0x80 && fd_nt_ascii_class[s[i]] == FD_NC_WORD) {
                            uint32_t at = base + (uint32_t)i;
                            if (K)
                                x.kt[x.ko] = fd_nt_ascii_image[s[i]], x.km[x.ko++] = at;
                            if (S) {
                                x.st[x.so] = fd_nt_ascii_image[s[i]], x.sm[x.so] = at;
                                x.sg[x.so++] = (uint8_t)g;
                                g = 0;
                            }
                            i++, x.seg++;
                        }
                    word_end:;
                    }
                    if (i >= stop || (b = s[i]) >= 0x80)
                        break;
                }
                continue;
            }
            /* 3-byte characters: own-image word characters (most Chinese)
             * and punctuation are copied after a bitmap test, which also
             * rejects overlong and surrogate forms (they have no bit); the
             * others are validated, looked up and stepped. END3: the last start from
             * which 3 bytes can be read, within the slice. */
            size_t end3 = len < 3 ? 0 : stop < len - 2 ? stop : len - 2;
            if ((b & 0xF0) == 0xE0 && i < end3) {
                for (;;) {
                    uint8_t b1 = s[i + 1], b2 = s[i + 2];
                    uint32_t cp =
                        (uint32_t)(b & 0x0F) << 12 | (uint32_t)(b1 & 0x3F) << 6 | (b2 & 0x3F);
                    uint32_t at = base + (uint32_t)i;
                    int cont = (((b1 ^ 0x80) | (b2 ^ 0x80)) & 0xC0) == 0;
                    if (cont && fd_nt_ident_bmp_has(cp)) {
                        int g = word_start(K, S, &x, fd_nt_wide_bmp_has(cp));
                        if (K)
                            x.ko = copy3(x.kt, x.km, x.ko, s, i, len, at);
                        if (S) {
                            put_gap(x.sg, x.so, 3, g);
                            x.so = copy3(x.st, x.sm, x.so, s, i, len, at);
                        }
                        x.seg++;
                        i += 3;
                    } else if (cont && fd_nt_break_bmp_has(cp)) {
                        /* Strong terminators (。，、！？ ...): the general
                         * step for FD_NC_BREAK (its image, mapped or the
                         * input's, is 1 to 4 bytes), with no switch, the
                         * image copied as 4 bytes when they are readable
                         * (fd_nt_pool has 3 bytes of padding). */
                        uint32_t e = fd_nt_lookup(cp);
                        if (K) {
                            int mapped = (int)FD_NT_MAPPED(e);
                            const char *img =
                                mapped ? fd_nt_pool + FD_NT_OFF(e) : (const char *)s + i;
                            uint32_t il = mapped ? FD_NT_LEN(e) : 3;
                            keep_flush(&x);
                            if (mapped || i + 4 <= len) {
                                memcpy(x.kt + x.ko, img, 4);
                                for (int k = 0; k < 4; k++)
                                    x.km[x.ko + k] = at;
                                x.ko += il;
                            } else {
                                x.ko = put(x.kt, x.km, x.ko, img, il, at);
                            }
                            x.kany = 1;
                        }
                        if (S) {
                            strip_sep(&x, at, 3);
                            x.brk = 1;
                        }
                        i += 3;
                    } else if (cont && fd_nt_punct_bmp_has(cp)) {
                        /* Own-image punctuation (box drawing, quotes): the
                         * general step for FD_NC_PUNCT, without lookup. */
                        if (K) {
                            keep_flush(&x);
                            x.ko = copy3(x.kt, x.km, x.ko, s, i, len, at);
                            x.kany = 1;
                        }
                        if (S) {
                            strip_sep(&x, at, 3);
                            if (cp == 0x2019 && x.seg >= 2) /* ’: see step() */
                                x.brk = 1;
                        }
                        i += 3;
                    } else if ((cp = decode3(s + i)) != 0) {
                        uint32_t e = fd_nt_lookup(cp);
                        const char *img =
                            FD_NT_MAPPED(e) ? fd_nt_pool + FD_NT_OFF(e) : (const char *)s + i;
                        step(K, S, &x, FD_NT_CLASS(e), img, FD_NT_MAPPED(e) ? FD_NT_LEN(e) : 3, 3,
                             at, (int)FD_NT_WIDE(e));
                        i += 3;
                    } else {
                        break; /* invalid: the general step below */
                    }
                    if (i >= end3 || ((b = s[i]) & 0xF0) != 0xE0)
                        break;
                }
                if (i >= stop || (s[i] & 0xF0) != 0xE0 || i >= end3)
                    continue;
                /* else an invalid sequence at i: fall through */
            }

            /* Everything else: one lookup and step. */
            nchar c;
            lookup(s + i, len - i, &c);
            badc |= c.bad;
            step(K, S, &x, c.cls, c.img, c.ilen, c.clen, base + (uint32_t)i, c.wide);
            i += c.clen;
        }
    }
    if (K) {
        /* A trailing white space run stays pending: dropped if the text ends.
         * Without one, the run fields are meaningless and saved as 0, so
         * the state does not depend on which path ran. */
        kst->run = (uint32_t)x.ws;
        kst->nl = (uint8_t)(x.ws && x.ws_nl);
        kst->run_at = x.ws ? x.ws_at : 0;
        kst->run_len = x.ws ? x.ws_len : 0;
        kst->any = (uint8_t)x.kany;
        kb->len = x.ko;
    }
    if (S) {
        /* A run is only ever counted up to just past the noise limit: what
         * matters is whether it exceeds it, and the state must stay small. */
        sst->run = (uint32_t)(x.run > FD_NORM_MAX_NOISE + 1 ? FD_NORM_MAX_NOISE + 1 : x.run);
        sst->run_at = x.run ? x.run_at : 0;
        sst->run_len = x.run ? x.run_len : 0;
        sst->brk = (uint8_t)(x.run && x.brk);
        sst->term = (uint8_t)(x.run && x.term);
        sst->seg = (uint32_t)(x.seg > 2 ? 2 : x.seg);
        sst->any = (uint8_t)x.sany;
        sst->wide = (uint8_t)x.wprev;
        sst->clause = (uint8_t)(x.run && x.clause);
        sb->len = x.so;
    }
    *bad = badc;
    return 0;
}

/* The three instances (see norm_core). Not inlined into their callers, so
 * each is compiled once with its constant flags. */
static int norm_keep(fd_norm_state *st, const uint8_t *s, size_t len, fd_normbuf *out, int *bad)
{
    return norm_core(1, 0, st, NULL, s, len, out, NULL, bad);
}

static int norm_strip(fd_norm_state *st, const uint8_t *s, size_t len, fd_normbuf *out, int *bad)
{
    return norm_core(0, 1, NULL, st, s, len, NULL, out, bad);
}

static int norm_both(fd_norm_state *kst, fd_norm_state *sst, const uint8_t *s, size_t len,
                     fd_normbuf *kb, fd_normbuf *sb, int *bad)
{
    return norm_core(1, 1, kst, sst, s, len, kb, sb, bad);
}

void fd_norm_begin(fd_norm_state *st, fd_norm_mode mode)
{
    memset(st, 0, sizeof *st);
    st->mode = mode;
}

/* See norm.h. Appends; the caller's buffer keeps what it had. */
int fd_norm_feed(fd_norm_state *st, const char *in, size_t len, fd_normbuf *out)
{
    if (st->mode != FD_NORM_KEEP_SEP && st->mode != FD_NORM_STRIP_SEP)
        return FD_EINVAL;
    if (len > UINT32_MAX - st->base)
        return FD_ETOOBIG;
    size_t keep = out->len;
    int rc = reserve(out, keep + 1);
    if (rc)
        return rc;
    const uint8_t *s = (const uint8_t *)in;
    int bad;
    rc = st->mode == FD_NORM_STRIP_SEP ? norm_strip(st, s, len, out, &bad)
                                       : norm_keep(st, s, len, out, &bad);
    if (rc) {
        out->len = keep;
        out->text[keep] = '\0';
        return rc;
    }
    st->base += (uint32_t)len;
    out->text[out->len] = '\0';
    return 0;
}

/* See norm.h. Both states must be at the same stream offset: they are
 * always advanced together here. */
int fd_norm_feed_both(fd_norm_state *kst, fd_norm_state *sst, const char *in, size_t len,
                      fd_normbuf *keep, fd_normbuf *strip)
{
    if (kst->mode != FD_NORM_KEEP_SEP || sst->mode != FD_NORM_STRIP_SEP || kst->base != sst->base ||
        keep == strip)
        return FD_EINVAL;
    if (len > UINT32_MAX - kst->base)
        return FD_ETOOBIG;
    size_t kl = keep->len, sl = strip->len;
    int rc = reserve(keep, kl + 1);
    if (!rc)
        rc = reserve(strip, sl + 1);
    if (rc)
        return rc;
    int bad;
    rc = norm_both(kst, sst, (const uint8_t *)in, len, keep, strip, &bad);
    if (rc) {
        keep->len = kl;
        keep->text[kl] = '\0';
        strip->len = sl;
        strip->text[sl] = '\0';
        return rc;
    }
    kst->base += (uint32_t)len;
    sst->base += (uint32_t)len;
    keep->text[keep->len] = '\0';
    strip->text[strip->len] = '\0';
    return 0;
}

uint32_t fd_norm_pending(const fd_norm_state *st)
{
    return st->run ? st->run_at : st->base;
}

static void clear(fd_normbuf *b)
{
    b->len = 0;
    if (b->text)
        b->text[0] = '\0';
}

/* See norm.h. A whole text is a stream of one piece: what a trailing run
 * would have become is dropped with the state. */
int fd_norm(const char *in, size_t len, fd_norm_mode mode, fd_normbuf *out)
{
    clear(out);
    if (mode != FD_NORM_KEEP_SEP && mode != FD_NORM_STRIP_SEP)
        return FD_EINVAL;
    if (len > UINT32_MAX)
        return FD_ETOOBIG;
    fd_norm_state st;
    fd_norm_begin(&st, mode);
    int rc = fd_norm_feed(&st, in, len, out);
    if (rc)
        clear(out);
    return rc;
}

/* fd_norm_both and fd_norm_both_checked: one pass, two results; CHECK
 * turns an invalid input into FD_EUTF8 (the pass already decodes every
 * character strictly, so this costs nothing on valid text). */
static int both(const char *in, size_t len, fd_normbuf *keep, fd_normbuf *strip, int check)
{
    clear(keep);
    clear(strip);
    if (keep == strip)
        return FD_EINVAL;
    if (len > UINT32_MAX)
        return FD_ETOOBIG;
    fd_norm_state kst, sst;
    fd_norm_begin(&kst, FD_NORM_KEEP_SEP);
    fd_norm_begin(&sst, FD_NORM_STRIP_SEP);
    size_t kl = keep->len, sl = strip->len;
    int rc = reserve(keep, kl + 1);
    if (!rc)
        rc = reserve(strip, sl + 1);
    int bad = 0;
    if (!rc)
        rc = norm_both(&kst, &sst, (const uint8_t *)in, len, keep, strip, &bad);
    if (!rc && check && bad)
        rc = FD_EUTF8;
    if (rc) {
        clear(keep);
        clear(strip);
        return rc;
    }
    keep->text[keep->len] = '\0';
    strip->text[strip->len] = '\0';
    return 0;
}

int fd_norm_both(const char *in, size_t len, fd_normbuf *keep, fd_normbuf *strip)
{
    return both(in, len, keep, strip, 0);
}

int fd_norm_both_checked(const char *in, size_t len, fd_normbuf *keep, fd_normbuf *strip)
{
    return both(in, len, keep, strip, 1);
}

int fd_norm_word_at(const char *text, size_t len, size_t off)
{
    if (off >= len)
        return 0;
    nchar c;
    lookup((const uint8_t *)text + off, len - off, &c);
    return c.cls == FD_NC_WORD;
}

int fd_norm_word_before(const char *text, size_t off)
{
    if (off == 0)
        return 0;
    size_t start = off - 1;
    /* Step back over at most 3 continuation bytes to the lead byte. */
    while (start > 0 && off - start < 4 && ((uint8_t)text[start] & 0xC0) == 0x80)
        start--;
    return fd_norm_word_at(text, off, start);
}
