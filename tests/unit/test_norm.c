/*
 * test_norm.c — the normalizer (filterd/engine/norm.c, rules/README.md §5):
 * exact output and offset map for evasion forms alone and combined, in
 * Chinese and English; sentence/clause breaks that must stay breaks; the
 * KEEP_SEP mode; idempotence over every code point and over random mixes;
 * map invariants; pattern equivalence (traditional/full-width vs
 * simplified/ASCII); buffer growth and reuse; the word-character helpers;
 * and, differentially, the optimised normalizer (fast paths, fd_norm_both,
 * streams) against a copy of the original simple implementation over
 * corpus text and random code point soup.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_error.h"
#include "norm.h"
#include "normtab.h"
#include "utf8.h"

static fd_normbuf nb, nb2;

static void setup(void)
{
    fd_normbuf_init(&nb);
    fd_normbuf_init(&nb2);
}

static void teardown(void)
{
    fd_normbuf_free(&nb);
    fd_normbuf_free(&nb2);
}

TestSuite(norm, .init = setup, .fini = teardown);

/* Printable form of normalized bytes for failure messages ('\n' shown as \n). */
static const char *show(const char *s, size_t n)
{
    static char buf[4][1024];
    static int k;
    char *b = buf[k++ & 3];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < sizeof buf[0]; i++) {
        if (s[i] == '\n') {
            b[o++] = '\\';
            b[o++] = 'n';
        } else
            b[o++] = s[i];
    }
    b[o] = '\0';
    return b;
}

/* Parse "0 3 6" into MAP; returns the count. */
static size_t parse_map(const char *s, uint32_t *map, size_t max)
{
    size_t n = 0;
    char *end;
    for (;;) {
        unsigned long v = strtoul(s, &end, 10);
        if (end == s)
            break;
        cr_assert_lt(n, max);
        map[n++] = (uint32_t)v;
        s = end;
    }
    return n;
}

typedef struct ncase {
    const char *in;
    const char *out; /* expected normalized text */
    const char *map; /* expected map, space-separated input offsets */
} ncase;

static void run_cases(const ncase *cs, size_t n, fd_norm_mode mode)
{
    for (size_t i = 0; i < n; i++) {
        const ncase *c = &cs[i];
        int rc = fd_norm(c->in, strlen(c->in), mode, &nb);
        cr_assert_eq(rc, 0, "case %zu: rc %d", i, rc);
        cr_assert(nb.len == strlen(c->out) && memcmp(nb.text, c->out, nb.len) == 0,
                  "case %zu (%s, %s): got \"%s\", want \"%s\"", i, c->in,
                  mode == FD_NORM_STRIP_SEP ? "strip" : "keep", show(nb.text, nb.len),
                  show(c->out, strlen(c->out)));
        cr_assert_eq(nb.text[nb.len], '\0', "case %zu: not NUL-terminated", i);
        uint32_t want[256];
        size_t nw = parse_map(c->map, want, 256);
        cr_assert_eq(nw, nb.len, "case %zu (%s): map spec has %zu entries, output %zu bytes", i,
                     c->in, nw, nb.len);
        for (size_t j = 0; j < nw; j++)
            cr_assert_eq(nb.map[j], want[j], "case %zu (%s): map[%zu] = %u, want %u", i, c->in, j,
                         nb.map[j], want[j]);
    }
}

/* Evasion forms, one at a time and combined: all read as the keyword. */
static const ncase strip_evasion[] = {
    /* full-width */
    {"ＢＯＭＢ", "bomb", "0 3 6 9"},
    {"Ｋｉｌｌ", "kill", "0 3 6 9"},
    /* upper case */
    {"BoMb", "bomb", "0 1 2 3"},
    /* traditional → simplified */
    {"炸彈", "炸弹", "0 0 0 3 3 3"},
    {"製造炸彈", "制造炸弹", "0 0 0 3 3 3 6 6 6 9 9 9"},
    /* separator noise */
    {"炸 弹", "炸弹", "0 0 0 4 4 4"},
    {"b.o.m.b", "bomb", "0 2 4 6"},
    {"b o m b", "bomb", "0 2 4 6"},
    {"f.u.c.k", "fuck", "0 2 4 6"},
    {"f. u. c. k", "fuck", "0 3 6 9"},
    {"制 造-炸*弹", "制造炸弹", "0 0 0 4 4 4 8 8 8 12 12 12"},
    {"b - o", "bo", "0 4"},
    {"炸💣弹", "炸弹", "0 0 0 7 7 7"},
    {"炸_弹", "炸弹", "0 0 0 4 4 4"},
    {"炸——弹", "炸弹", "0 0 0 9 9 9"},
    {"bo.mb", "bomb", "0 1 3 4"},
    {"炸!弹", "炸弹", "0 0 0 4 4 4"}, /* ASCII '!' without white space: noise */
    /* invisible characters */
    {"炸\u200b弹", "炸弹", "0 0 0 6 6 6"},
    {"炸\u200c\u200d\u2060弹", "炸弹", "0 0 0 12 12 12"},
    {"bo\u00admb", "bomb", "0 1 4 5"},
    {"\ufeffbomb", "bomb", "3 4 5 6"},
    {"b\u202eom\u2066b", "bomb", "0 4 5 9"},
    {"炸\ufe0f弹", "炸弹", "0 0 0 6 6 6"},
    {"b\U000E0062omb", "bomb", "0 5 6 7"}, /* tag character */
    {"炸\u3164弹", "炸弹", "0 0 0 6 6 6"}, /* Hangul filler */
    /* styled letters, circled/parenthesised digits, ligatures */
    {"ℬ𝐨𝐦𝐛", "bomb", "0 3 7 11"},
    {"𝔟𝔬𝔪𝔟", "bomb", "0 4 8 12"},
    {"ⓑⓞⓜⓑ", "bomb", "0 3 6 9"},
    {"①", "1", "0"},
    {"⑴⒈", "11", "0 3"},
    {"㈠", "一", "0 0 0"},
    {"ﬁre", "fire", "0 0 3 4"},
    {"Straße", "strasse", "0 1 2 3 4 4 6"},
    {"1\ufe0f\u20e3", "1", "0"}, /* keycap */
    /* diacritics: precomposed and decomposed alike, strike-through overlays */
    {"bómb", "bomb", "0 1 3 4"},
    {"bo\u0301mb", "bomb", "0 1 4 5"},
    {"b\u0336o\u0336m\u0336b\u0336", "bomb", "0 3 6 9"},
    {"İstanbul", "istanbul", "0 2 3 4 5 6 7 8"},
    /* compatibility ideographs and Kangxi radicals */
    {"\u2f00", "一", "0 0 0"},
    /* combined */
    {"Ｂ.𝐨 m\u200bＢ", "bomb", "0 4 9 13"},
    {"製 造\u200b－炸＊彈", "制造炸弹", "0 0 0 4 4 4 13 13 13 19 19 19"},
    {"ＫＩＬＬ ｙｏｕ", "killyou", "0 3 6 9 13 16 19"},
    {"炸\u200d 彈", "炸弹", "0 0 0 7 7 7"},
};

Test(norm, strip_evasion_forms)
{
    run_cases(strip_evasion, sizeof strip_evasion / sizeof *strip_evasion, FD_NORM_STRIP_SEP);
}

/* Breaks: sentence ends, CJK clause punctuation, line breaks, long runs. */
static const ncase strip_breaks[] = {
    {"...bo. Mb...", "bo\nmb", "3 4 5 7 8"},
    {"炸。\n弹", "炸\n弹", "0 0 0 3 7 7 7"},
    {"炸。弹", "炸\n弹", "0 0 0 3 6 6 6"},
    {"爆炸，弹片", "爆炸\n弹片", "0 0 0 3 3 3 6 9 9 9 12 12 12"},
    {"爆炸、弹片", "爆炸\n弹片", "0 0 0 3 3 3 6 9 9 9 12 12 12"},
    {"炸！弹", "炸\n弹", "0 0 0 3 6 6 6"},
    {"炸｡弹", "炸\n弹", "0 0 0 3 6 6 6"},
    {"bo\nmb", "bo\nmb", "0 1 2 3 4"},
    {"bo\r\nmb", "bo\nmb", "0 1 2 4 5"},
    {"bo\u2028mb", "bo\nmb", "0 1 2 5 6"},
    {"end. Start", "end\nstart", "0 1 2 3 5 6 7 8 9"},
    {"end.\" Start", "end\nstart", "0 1 2 3 6 7 8 9 10"},
    {"bo!? mb", "bo\nmb", "0 1 2 5 6"},
    {"bo, mb", "bo\nmb", "0 1 2 4 5"},
    {"b    o", "b\no", "0 1 5"}, /* 4 separators: too long for noise */
    {"b-*-*o", "b\no", "0 1 5"},
    {"爆炸. 弹片", "爆炸\n弹片", "0 0 0 3 3 3 6 8 8 8 11 11 11"},
    /* an ASCII comma or semicolon between two wide characters */
    {"出售,枪支", "出售\n枪支", "0 0 0 3 3 3 6 7 7 7 10 10 10"},
    {"出售;枪支", "出售\n枪支", "0 0 0 3 3 3 6 7 7 7 10 10 10"},
    /* an apostrophe after a word of 2 or more characters: contractions */
    {"who're", "who\nre", "0 1 2 3 4 5"},
    {"who\u2019re", "who\nre", "0 1 2 3 6 7"},
    /* edges: leading and trailing runs vanish, never a leading/trailing break */
    {"  bomb!! ", "bomb", "2 3 4 5"},
    {"。炸弹。", "炸弹", "3 3 3 6 6 6"},
    {"\n\nbomb\n", "bomb", "2 3 4 5"},
    {"", "", ""},
    {" \u200b .", "", ""},
    /* near-misses that stay noise */
    {"U.S. Army", "usarmy", "0 2 5 6 7 8"},
    {"bo .mb", "bomb", "0 1 4 5"}, /* white space before the stop, not after */
    {"炸!弹", "炸弹", "0 0 0 4 4 4"},
    {"a,炸", "a炸", "0 2 2 2"}, /* the comma rule needs wide on both sides */
    {"3,000", "3000", "0 2 3 4"},
    {"I'll", "ill", "0 2 3"}, /* an apostrophe after one letter is noise */
    {"f'u'c'k", "fuck", "0 2 4 6"},
};

/* Gap flags (STRIP): 1 on the first byte of a word character after noise. */
Test(norm, strip_gap_flags)
{
    static const struct {
        const char *in, *gaps;
    } cases[] = {
        {"of Uckfield", "0010000000"},
        {"k.i.l.l", "0111"},
        {"skill", "00000"},
        {"炸 弹", "000100"},
        {"bo. Mb", "00\n00"}, /* a break byte: no gap flag, '\n' in the pattern */
        {"ＫＩＬＬ ｙｏｕ", "0000100"},
    };
    fd_normbuf b;
    fd_normbuf_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(fd_norm(cases[i].in, strlen(cases[i].in), FD_NORM_STRIP_SEP, &b), 0);
        cr_assert_eq(b.len, strlen(cases[i].gaps), "%s: length %zu", cases[i].in, b.len);
        for (size_t j = 0; j < b.len; j++) {
            if (cases[i].gaps[j] == '\n') {
                cr_assert_eq(b.text[j], FD_NORM_BREAK);
                cr_assert_eq(b.gap[j], 0);
            } else {
                cr_assert_eq(b.gap[j], cases[i].gaps[j] - '0', "%s: gap[%zu] = %u", cases[i].in, j,
                             b.gap[j]);
            }
        }
    }
    fd_normbuf_free(&b);
}

Test(norm, strip_breaks_and_edges)
{
    run_cases(strip_breaks, sizeof strip_breaks / sizeof *strip_breaks, FD_NORM_STRIP_SEP);
}

/* Separators kept, folded; white space runs collapsed. */
static const ncase keep_cases[] = {
    {"炸 弹", "炸 弹", "0 0 0 3 4 4 4"},
    {"ＢＯＭＢ！", "bomb!", "0 3 6 9 12"},
    {"b.o.m.b", "b.o.m.b", "0 1 2 3 4 5 6"},
    {"Hello,   World!", "hello, world!", "0 1 2 3 4 5 6 9 10 11 12 13 14"},
    {"a \t\n b", "a\nb", "0 1 5"},
    {"a\u3000\u00a0b", "a b", "0 1 6"},
    {"炸彈\u200b。", "炸弹。", "0 0 0 3 3 3 9 9 9"},
    {"爆炸，弹片", "爆炸,弹片", "0 0 0 3 3 3 6 9 9 9 12 12 12"},
    {"a ¨ b", "a b", "0 1 5"}, /* spacing accent: empty image, white space stays one run */
    {"b\u0336o\u0336", "bo", "0 3"},
    {"  x  ", "x", "2"}, /* leading and trailing white space vanish */
    {"\u200b\n x\u3000\u200b", "x", "5"},
    {"⑴ x", "1 x", "0 3 4"},
    {"炸💣弹", "炸💣弹", "0 0 0 3 3 3 3 7 7 7"},
    {"b\xffo", "b\xef\xbf\xbdo", "0 1 1 1 2"}, /* invalid byte → U+FFFD */
};

Test(norm, keep_mode)
{
    run_cases(keep_cases, sizeof keep_cases / sizeof *keep_cases, FD_NORM_KEEP_SEP);
}

Test(norm, invalid_utf8_is_a_separator_in_strip_mode)
{
    /* Truncated and overlong sequences, a lone continuation byte, a
     * surrogate: each byte reads as U+FFFD, never past the end. */
    static const ncase c[] = {
        {"b\xffo", "bo", "0 2"},
        {"b\xe7\x82", "b", "0"},
        {"b\xc0\xafo", "bo", "0 3"},
        {"\x80"
         "b",
         "b", "1"},
        {"b\xed\xa0\x80o", "bo", "0 4"},
        {"b\xf4\x90\x80\x80o", "b\no", "0 1 5"}, /* four bad bytes: four separators */
        {"b\xff\xff\xff\xffo", "b\no", "0 1 5"}, /* four separators: a break */
    };
    run_cases(c, sizeof c / sizeof *c, FD_NORM_STRIP_SEP);
}

/* Sentences that must not glue into a keyword. */
Test(norm, no_keyword_across_sentences)
{
    static const char *texts[] = {
        "昨天发生爆炸。弹片四溅",   "昨天发生爆炸，弹片四溅",
        "昨天发生爆炸！\n弹片四溅", "It was a good jo. Bomb squads arrived",
        "He said bo.\nMb is next",
    };
    static const char *keywords[] = {"炸弹", "炸弹", "炸弹", "jobomb", "bomb"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        cr_assert_eq(fd_norm(keywords[i], strlen(keywords[i]), FD_NORM_STRIP_SEP, &nb2), 0);
        cr_assert_eq(fd_norm(texts[i], strlen(texts[i]), FD_NORM_STRIP_SEP, &nb), 0);
        cr_assert_null(memmem(nb.text, nb.len, nb2.text, nb2.len), "\"%s\" contains \"%s\": %s",
                       texts[i], keywords[i], show(nb.text, nb.len));
    }
    /* ...while the same words with noise do. */
    const char *t = "他想制造-炸*弹。然后";
    cr_assert_eq(fd_norm(t, strlen(t), FD_NORM_STRIP_SEP, &nb), 0);
    cr_assert_str_eq(nb.text, "他想制造炸弹\n然后");
}

/* A pattern written in traditional characters or full-width forms
 * normalizes to the same bytes as its simplified/ASCII spelling, in both
 * modes, and normalized patterns never contain the break byte. */
Test(norm, pattern_spellings_agree)
{
    static const char *pairs[][2] = {
        {"炸彈", "炸弹"},     {"製造炸彈", "制造炸弹"},        {"恐怖襲擊", "恐怖袭击"},
        {"開槍", "开枪"},     {"爆炸裝置", "爆炸装置"},        {"毒品販賣", "毒品贩卖"},
        {"ＢＯＭＢ", "bomb"}, {"Ｋｉｌｌ ｙｏｕ", "kill you"}, {"ＡＫ－４７", "ak-47"},
        {"𝐁𝐨𝐦𝐛", "Bomb"},     {"炸\u200b彈", "炸弹"},          {"①②③", "123"},
    };
    for (int mode = 0; mode <= 1; mode++)
        for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
            cr_assert_eq(fd_norm(pairs[i][0], strlen(pairs[i][0]), (fd_norm_mode)mode, &nb), 0);
            cr_assert_eq(fd_norm(pairs[i][1], strlen(pairs[i][1]), (fd_norm_mode)mode, &nb2), 0);
            cr_assert(nb.len == nb2.len && memcmp(nb.text, nb2.text, nb.len) == 0,
                      "mode %d: %s → \"%s\" but %s → \"%s\"", mode, pairs[i][0],
                      show(nb.text, nb.len), pairs[i][1], show(nb2.text, nb2.len));
            if (mode == FD_NORM_STRIP_SEP)
                cr_assert_null(memchr(nb.text, FD_NORM_BREAK, nb.len));
        }
}

/* ---- properties: idempotence, map invariants, valid UTF-8 ---- */

static size_t put_utf8(char *b, uint32_t c)
{
    if (c < 0x80) {
        b[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        b[0] = (char)(0xC0 | c >> 6);
        b[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        b[0] = (char)(0xE0 | c >> 12);
        b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | c >> 18);
    b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    b[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 character at S (N bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t l = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (l == 0 || l > n || s[0] > 0xF4)
        return 0;
    for (size_t k = 1; k < l; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return l;
}

/* Check the contract of one result: valid UTF-8 out; every map value on a
 * character boundary of the (valid) input, inside it, non-decreasing; all
 * bytes of one output character from one input character; in STRIP mode
 * only word characters and single inner breaks. */
static void check_invariants(const char *in, size_t len, const fd_normbuf *b, fd_norm_mode mode)
{
    const unsigned char *u = (const unsigned char *)in;
    for (size_t i = 0; i < b->len;) {
        size_t l = utf8_len((const unsigned char *)b->text + i, b->len - i);
        cr_assert_gt(l, 0, "invalid UTF-8 out at %zu", i);
        for (size_t k = 0; k < l; k++) {
            uint32_t m = b->map[i + k];
            cr_assert_lt(m, len);
            cr_assert_neq(u[m] & 0xC0, 0x80, "map[%zu] = %u is not a character boundary", i + k, m);
            cr_assert_eq(m, b->map[i], "one output character from two input characters");
            if (i + k > 0)
                cr_assert_geq(m, b->map[i + k - 1], "map decreases at %zu", i + k);
        }
        if (mode == FD_NORM_STRIP_SEP) {
            if (b->text[i] == FD_NORM_BREAK) {
                cr_assert(i > 0 && i + 1 < b->len, "leading or trailing break");
                cr_assert_neq(b->text[i + 1], FD_NORM_BREAK, "two breaks in a row");
            } else {
                cr_assert(fd_norm_word_at(b->text, b->len, i),
                          "non-word character in STRIP output");
            }
        }
        i += l;
    }
}

static void check_idempotent(const char *in, size_t len, fd_norm_mode mode)
{
    cr_assert_eq(fd_norm(in, len, mode, &nb), 0);
    check_invariants(in, len, &nb, mode);
    cr_assert_eq(fd_norm(nb.text, nb.len, mode, &nb2), 0);
    cr_assert(nb.len == nb2.len && memcmp(nb.text, nb2.text, nb.len) == 0,
              "mode %d: not idempotent: \"%s\" → \"%s\" → \"%s\"", mode, show(in, len),
              show(nb.text, nb.len), show(nb2.text, nb2.len));
}

/* Every code point alone between two letters, in both modes; then the
 * whole range in one text (exercises buffer growth too). */
Test(norm, idempotent_over_all_code_points, .timeout = 120)
{
    char buf[16];
    for (uint32_t c = 0; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        size_t n = 0;
        buf[n++] = 'x';
        n += put_utf8(buf + n, c);
        buf[n++] = 'y';
        check_idempotent(buf, n, FD_NORM_STRIP_SEP);
        check_idempotent(buf, n, FD_NORM_KEEP_SEP);
    }
    char *all = malloc(0x110000 * 4);
    cr_assert(all);
    size_t n = 0;
    for (uint32_t c = 0; c < 0x110000; c++)
        if (c < 0xD800 || c > 0xDFFF)
            n += put_utf8(all + n, c);
    check_idempotent(all, n, FD_NORM_STRIP_SEP);
    check_idempotent(all, n, FD_NORM_KEEP_SEP);
    free(all);
}

/* Random mixes of the characters that matter (letters, CJK, separators,
 * terminators, invisibles, expanding characters), deterministic seed. */
Test(norm, idempotent_and_invariants_on_random_mixes)
{
    static const char *alphabet[] = {
        "a",       "B",      "z",
        "0",       " ",      "  ",
        "\t",      "\n",     "\r\n",
        ".",       ",",      "!",
        "?",       ";",      "-",
        "*",       "'",      "\"",
        "炸",      "彈",     "弹",
        "製",      "。",     "，",
        "、",      "！",     "？",
        "；",      "\u3000", "\u200b",
        "\u200d",  "\u00ad", "\ufeff",
        "\u202e",  "\ufe0f", "Ｂ",
        "ｏ",      "！",     "①",
        "⑴",       "ﬁ",      "ß",
        "İ",       "𝐨",      "\u0301",
        "\u0336",  "¨",      "㍿",
        "\ufdfa",  "💣",      "\u2028",
        "…",       "——",     "é",
        "e\u0301", "가",     "\u1100\u1161",
        "ا",       "\u064e", "क",
        "\u093f",  "\xff",   "\xe7\x82",
    };
    size_t na = sizeof alphabet / sizeof *alphabet;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    char text[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;
        int parts = 1 + (int)(seed % 24);
        for (int p = 0; p < parts; p++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *a = alphabet[(seed >> 33) % na];
            size_t l = strlen(a);
            memcpy(text + n, a, l);
            n += l;
        }
        /* Invalid bytes are only in the alphabet to check they do not
         * crash; the invariants assume valid input, so check those apart. */
        int valid = 1;
        for (size_t i = 0; i < n;) {
            size_t l = utf8_len((const unsigned char *)text + i, n - i);
            if (!l) {
                valid = 0;
                break;
            }
            i += l;
        }
        for (int mode = 0; mode <= 1; mode++) {
            if (valid)
                check_idempotent(text, n, (fd_norm_mode)mode);
            else
                cr_assert_eq(fd_norm(text, n, (fd_norm_mode)mode, &nb), 0);
        }
    }
}

/* Normalizing a prefix of a text (cut on a character boundary) gives a
 * prefix of the normalized whole, map included, in both modes: a stream
 * can be normalized as it arrives. */
Test(norm, prefix_of_input_gives_prefix_of_output)
{
    static const char *alphabet[] = {
        "a",  "Z",  "0",      " ",      "\t", "\n", ".", ",",      "!",  "-", "炸",     "彈",
        "。", "，", "\u3000", "\u200b", "Ｂ", "①",  "ﬁ", "\u0301", "㍿", "💣", "\u2028", "¨",
    };
    size_t na = sizeof alphabet / sizeof *alphabet;
    uint64_t seed = 42;
    char text[256];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 0;
        for (int p = 0; p < 12; p++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *a = alphabet[(seed >> 33) % na];
            memcpy(text + n, a, strlen(a));
            n += strlen(a);
        }
        for (int mode = 0; mode <= 1; mode++) {
            cr_assert_eq(fd_norm(text, n, (fd_norm_mode)mode, &nb), 0);
            for (size_t cut = 0; cut <= n; cut++) {
                if (cut < n && ((unsigned char)text[cut] & 0xC0) == 0x80)
                    continue;
                cr_assert_eq(fd_norm(text, cut, (fd_norm_mode)mode, &nb2), 0);
                cr_assert(nb2.len <= nb.len && memcmp(nb2.text, nb.text, nb2.len) == 0 &&
                              memcmp(nb2.map, nb.map, nb2.len * sizeof *nb.map) == 0,
                          "mode %d: \"%s\" cut at %zu → \"%s\", whole → \"%s\"", mode,
                          show(text, n), cut, show(nb2.text, nb2.len), show(nb.text, nb.len));
            }
        }
    }
}

/* The break byte comes only from line breaks and (in STRIP mode) from
 * separator runs; no single code point between letters produces it unless
 * it is a line break or a strong (CJK) terminator. */
Test(norm, only_breaks_produce_the_break_byte)
{
    char buf[16];
    for (uint32_t c = 0x80; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        size_t n = 0;
        buf[n++] = 'x';
        n += put_utf8(buf + n, c);
        buf[n++] = 'y';
        cr_assert_eq(fd_norm(buf, n, FD_NORM_STRIP_SEP, &nb), 0);
        int has = memchr(nb.text, FD_NORM_BREAK, nb.len) != NULL;
        unsigned cls = FD_NT_CLASS(fd_nt_lookup(c));
        cr_assert_eq(has, cls == FD_NC_NL || cls == FD_NC_BREAK, "U+%04X (class %u): break %d", c,
                     cls, has);
        cr_assert_eq(fd_norm(buf, n, FD_NORM_KEEP_SEP, &nb), 0);
        cr_assert_eq(memchr(nb.text, '\n', nb.len) != NULL, cls == FD_NC_NL, "U+%04X in KEEP", c);
    }
}

/* ---- buffers, errors, helpers ---- */

Test(norm, expanding_input_grows_the_buffer)
{
    /* ㍿ (3 bytes) → 株式会社 (12 bytes); U+FDFA (3 bytes) → 30 bytes. */
    size_t reps = 5000;
    char *in = malloc(reps * 3 + 1);
    cr_assert(in);
    for (size_t i = 0; i < reps; i++)
        memcpy(in + 3 * i, "㍿", 3);
    cr_assert_eq(fd_norm(in, reps * 3, FD_NORM_STRIP_SEP, &nb), 0);
    cr_assert_eq(nb.len, reps * 12);
    for (size_t i = 0; i < reps; i++) {
        cr_assert(memcmp(nb.text + 12 * i, "株式会社", 12) == 0);
        cr_assert_eq(nb.map[12 * i], 3 * i);
        cr_assert_eq(nb.map[12 * i + 11], 3 * i);
    }
    for (size_t i = 0; i < reps; i++)
        memcpy(in + 3 * i, "\xef\xb7\xba", 3); /* U+FDFA */
    cr_assert_eq(fd_norm(in, reps * 3, FD_NORM_KEEP_SEP, &nb), 0);
    cr_assert_eq(nb.len % reps, 0);
    cr_assert_gt(nb.len / reps, 20);
    free(in);
}

Test(norm, buffer_reuse_and_no_allocation_when_big_enough)
{
    const char *longt = "ＢＯＭＢ ＢＯＭＢ ＢＯＭＢ ＢＯＭＢ 炸彈炸彈炸彈炸彈";
    cr_assert_eq(fd_norm(longt, strlen(longt), FD_NORM_STRIP_SEP, &nb), 0);
    char *text = nb.text;
    uint32_t *map = nb.map;
    size_t cap = nb.cap;
    cr_assert_eq(fd_norm("Ab", 2, FD_NORM_STRIP_SEP, &nb), 0);
    cr_assert_str_eq(nb.text, "ab");
    cr_assert_eq(nb.len, 2);
    /* The buffer was big enough: same arrays, same capacity. */
    cr_assert(nb.text == text && nb.map == map && nb.cap == cap);
    cr_assert_eq(fd_norm("", 0, FD_NORM_KEEP_SEP, &nb), 0);
    cr_assert_eq(nb.len, 0);
    cr_assert_str_eq(nb.text, "");
    cr_assert_eq(fd_norm(NULL, 0, FD_NORM_STRIP_SEP, &nb2), 0);
    cr_assert_eq(nb2.len, 0);
}

Test(norm, bad_mode_is_einval)
{
    cr_assert_eq(fd_norm("x", 1, (fd_norm_mode)7, &nb), FD_EINVAL);
    cr_assert_eq(nb.len, 0);
}

Test(norm, word_helpers)
{
    const char *t = "ab,炸 x";
    size_t n = strlen(t);
    cr_assert(fd_norm_word_at(t, n, 0));
    cr_assert(!fd_norm_word_at(t, n, 2)); /* ',' */
    cr_assert(fd_norm_word_at(t, n, 3));  /* 炸 */
    cr_assert(!fd_norm_word_at(t, n, 6)); /* ' ' */
    cr_assert(!fd_norm_word_at(t, n, n));
    cr_assert(!fd_norm_word_before(t, 0));
    cr_assert(fd_norm_word_before(t, 2));  /* 'b' */
    cr_assert(!fd_norm_word_before(t, 3)); /* ',' */
    cr_assert(fd_norm_word_before(t, 6));  /* 炸 */
    cr_assert(fd_norm_word_before(t, n));  /* 'x' */
}

Test(norm, version_names_the_tables)
{
    const char *v = fd_norm_version();
    cr_assert_not_null(strstr(v, "unicode/" FD_NT_UNICODE_VERSION));
    cr_assert_not_null(strstr(v, FD_NT_DIGEST));
}

/* Streams: feeding a text in pieces, split at every character boundary
 * (and in three pieces at many pairs of boundaries), gives exactly the
 * output and the map of the whole text. */
Test(norm, stream_pieces_equal_whole)
{
    static const char *texts[] = {
        "教你製 造-炸\u200b彈，然后 b.o.m.b 和 Ｂ Ｏ Ｍ Ｂ。\n\n end. Start ... x",
        "  leading and trailing  ",
        "a -- b",
        "f. u. c. k",
        "\u200b\u200b",
        "x\n\ny",
        "U.S. Army, 1. 2. 3.",
        "炸 。 弹",
        "ﬁ ß ① ⑴ ㈠ Ǆ",
        ""};
    fd_normbuf whole, part;
    fd_normbuf_init(&whole);
    fd_normbuf_init(&part);
    for (int mode = 0; mode < 2; mode++) {
        for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
            const char *s = texts[t];
            size_t len = strlen(s);
            cr_assert_eq(fd_norm(s, len, (fd_norm_mode)mode, &whole), 0);
            for (size_t a = 0; a <= len; a++) {
                if (a < len && ((unsigned char)s[a] & 0xC0) == 0x80)
                    continue;
                for (size_t b = a; b <= len; b++) {
                    if (b < len && ((unsigned char)s[b] & 0xC0) == 0x80)
                        continue;
                    fd_norm_state st;
                    fd_norm_begin(&st, (fd_norm_mode)mode);
                    part.len = 0;
                    cr_assert_eq(fd_norm_feed(&st, s, a, &part), 0);
                    cr_assert_eq(fd_norm_feed(&st, s + a, b - a, &part), 0);
                    cr_assert_eq(fd_norm_feed(&st, s + b, len - b, &part), 0);
                    cr_assert_eq(part.len, whole.len, "mode %d text %zu split %zu/%zu", mode, t, a,
                                 b);
                    cr_assert(memcmp(part.text, whole.text, whole.len) == 0,
                              "mode %d text %zu split %zu/%zu: text differs", mode, t, a, b);
                    cr_assert(memcmp(part.map, whole.map, whole.len * sizeof *whole.map) == 0,
                              "mode %d text %zu split %zu/%zu: map differs", mode, t, a, b);
                    cr_assert_leq(fd_norm_pending(&st), len);
                }
            }
        }
    }
    fd_normbuf_free(&whole);
    fd_normbuf_free(&part);
}

/* ---- differential: the fast normalizer against a simple reference ----
 *
 * The reference is a verbatim copy (names prefixed ref_) of the simple
 * implementation norm.c had before its fast paths: one loop per mode, one
 * decode and lookup per character, a capacity test per character. It
 * shares only the generated tables with norm.c, so a fast path that
 * disagrees with the general step shows up as a difference here. Keep it
 * as it is: it is the specification of the output, not code to optimise.
 */

#define SLACK (FD_NT_MAX_IMAGE + 2)
static const char ref_replacement[3] = {'\xEF', '\xBF', '\xBD'};

/* Make room for NEED bytes of text and NEED map entries, keeping the
 * contents. Grows geometrically so a long expanding input costs O(log n)
 * reallocations. On failure the buffer is unchanged except that one of the
 * arrays may already be larger, which is harmless (cap is the minimum). */
static int ref_reserve(fd_normbuf *b, size_t need)
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
 * bad input degrades to U+FFFD rather than to a read past the end. */
static inline size_t ref_decode(const uint8_t *s, size_t n, uint32_t *cp)
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
typedef struct ref_nchar {
    const char *img; /* bytes to emit (may point into the input) */
    uint32_t ilen;   /* their number */
    uint32_t clen;   /* length of the input character */
    unsigned cls;    /* FD_NC_* */
    int wide;        /* a wide word character */
} ref_nchar;

/* Look up the character at S (non-ASCII or ASCII; N >= 1 bytes left). */
static inline void ref_lookup(const uint8_t *s, size_t n, ref_nchar *c)
{
    c->wide = 0;
    if (s[0] < 0x80) {
        c->cls = fd_nt_ascii_class[s[0]];
        c->img = &fd_nt_ascii_image[s[0]];
        c->ilen = c->clen = 1;
        return;
    }
    uint32_t cp = 0;
    size_t l = ref_decode(s, n, &cp);
    if (l == 0) {
        c->cls = FD_NC_PUNCT;
        c->img = ref_replacement;
        c->ilen = 3;
        c->clen = 1;
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

/* Append image bytes, each mapped to input offset AT. */
static inline size_t ref_put(char *t, uint32_t *m, size_t o, const char *img, uint32_t n,
                             uint32_t at)
{
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
 *   - it is longer than FD_NORM_MAX_NOISE characters, or
 *   - it contains an ASCII clause mark , or ; and lies between two wide
 *     word characters, or
 *   - it contains an apostrophe (' or U+2019) and the word before it is at
 *     least 2 characters long.
 * Runs at the start or end of the text are dropped. gap[i] is 1 for the
 * first byte of a word character after a dropped (noise) run, else 0.
 */
static int ref_norm_strip(fd_norm_state *st, const uint8_t *s, size_t len, fd_normbuf *out)
{
    char *t = out->text;
    uint32_t *m = out->map;
    size_t cap = out->cap, o = out->len, i = 0;
    const uint32_t base = st->base;
    /* The pending run, in locals for the hot loop; saved back at the end. */
    size_t run = st->run;           /* separators in the pending run */
    uint32_t run_at = st->run_at;   /* stream offset of its first separator */
    uint32_t run_len = st->run_len; /* and that separator's length */
    int run_brk = st->brk;          /* the pending run is already known to be a break */
    int run_term = st->term;        /* it contains a weak terminator */
    size_t seg = st->seg;           /* word characters since the last run */
    int any = st->any;              /* a word character was emitted (leading runs drop) */
    int wprev = st->wide;           /* the last word character was wide */
    int clause = st->clause;        /* the run holds an ASCII clause mark */
    int g = 0;                      /* gap flag of the next word character */
    uint8_t *gp = out->gap;

#define RESOLVE_RUN(wide)                                                                          \
    do {                                                                                           \
        if ((run_brk || run > FD_NORM_MAX_NOISE || (clause && wprev && (wide))) && any) {          \
            t[o] = FD_NORM_BREAK;                                                                  \
            gp[o] = 0;                                                                             \
            m[o++] = run_at;                                                                       \
        } else {                                                                                   \
            g = any;                                                                               \
        }                                                                                          \
        run = 0;                                                                                   \
        run_brk = run_term = clause = 0;                                                           \
        seg = 0;                                                                                   \
    } while (0)

    while (i < len) {
        if (o + SLACK > cap) {
            out->len = o;
            int rc = ref_reserve(out, o + SLACK + (len - i));
            if (rc)
                return rc;
            t = out->text;
            m = out->map;
            gp = out->gap;
            cap = out->cap;
        }
        uint8_t b = s[i];
        /* Fast path: a run of ASCII letters and digits, one byte each, as
         * far as the free room (at least 1 byte here) allows. */
        if (b < 0x80 && fd_nt_ascii_class[b] == FD_NC_WORD) {
            if (run)
                RESOLVE_RUN(0);
            wprev = 0;
            size_t room = cap - SLACK - o + 1, lim = len - i < room ? len - i : room, k = 0;
            do {
                t[o + k] = fd_nt_ascii_image[s[i + k]];
                m[o + k] = base + (uint32_t)(i + k);
                gp[o + k] = (uint8_t)g;
                g = 0;
                k++;
            } while (k < lim && s[i + k] < 0x80 && fd_nt_ascii_class[s[i + k]] == FD_NC_WORD);
            o += k;
            i += k;
            seg += k;
            any = 1;
            continue;
        }
        ref_nchar c;
        ref_lookup(s + i, len - i, &c);
        uint32_t at = base + (uint32_t)i;
        switch (c.cls) {
        case FD_NC_WORD:
            if (run)
                RESOLVE_RUN(c.wide);
            wprev = c.wide;
            for (uint32_t k = 0; k < c.ilen; k++)
                gp[o + k] = 0;
            gp[o] = (uint8_t)g;
            g = 0;
            o = ref_put(t, m, o, c.img, c.ilen, at);
            seg++;
            any = 1;
            break;
        case FD_NC_INVIS:
            break;
        case FD_NC_SPACE:
            if (!run++)
                run_at = at, run_len = c.clen;
            if (run_term && seg >= 2)
                run_brk = 1;
            break;
        case FD_NC_NL:
        case FD_NC_BREAK:
            if (!run++)
                run_at = at, run_len = c.clen;
            run_brk = 1;
            break;
        case FD_NC_TERM:
            if (!run++)
                run_at = at, run_len = c.clen;
            run_term = 1;
            if (c.ilen == 1 && strchr(",;", c.img[0]))
                clause = 1;
            break;
        default: /* FD_NC_PUNCT */
            if (!run++)
                run_at = at, run_len = c.clen;
            if (seg >= 2 && ((c.ilen == 1 && c.img[0] == '\'') ||
                             (c.ilen == 3 && memcmp(c.img, "\xE2\x80\x99", 3) == 0)))
                run_brk = 1;
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
    st->wide = (uint8_t)wprev;
    st->clause = (uint8_t)(run && clause);
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
static int ref_norm_keep(fd_norm_state *st, const uint8_t *s, size_t len, fd_normbuf *out)
{
    char *t = out->text;
    uint32_t *m = out->map;
    size_t cap = out->cap, o = out->len, i = 0;
    const uint32_t base = st->base;
    int ws = st->run != 0;         /* a white space run is pending */
    int ws_nl = st->nl;            /* it contains a line break */
    uint32_t ws_at = st->run_at;   /* stream offset of its first character */
    uint32_t ws_len = st->run_len; /* and that character's length */
    int any = st->any;             /* something was emitted (leading runs drop) */

#define FLUSH_WS()                                                                                 \
    do {                                                                                           \
        if (any) {                                                                                 \
            t[o] = ws_nl ? '\n' : ' ';                                                             \
            m[o++] = ws_at;                                                                        \
        }                                                                                          \
        ws = ws_nl = 0;                                                                            \
    } while (0)

    while (i < len) {
        if (o + SLACK > cap) {
            out->len = o;
            int rc = ref_reserve(out, o + SLACK + (len - i));
            if (rc)
                return rc;
            t = out->text;
            m = out->map;
            cap = out->cap;
        }
        uint8_t b = s[i];
        if (b < 0x80) {
            unsigned cl = fd_nt_ascii_class[b];
            if (cl == FD_NC_WORD || cl >= FD_NC_PUNCT) {
                if (ws)
                    FLUSH_WS();
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
        ref_nchar c;
        ref_lookup(s + i, len - i, &c);
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
            if (c.ilen == 0)
                break;
            if (ws)
                FLUSH_WS();
            o = ref_put(t, m, o, c.img, c.ilen, base + (uint32_t)i);
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

/* Normalize IN with the reference into OUT (a fd_normbuf, freed with
 * fd_normbuf_free). */
static void ref_norm(const char *in, size_t len, fd_norm_mode mode, fd_normbuf *out)
{
    fd_norm_state st;
    memset(&st, 0, sizeof st);
    st.mode = mode;
    out->len = 0;
    cr_assert_eq(ref_reserve(out, len + SLACK), 0);
    const uint8_t *s = (const uint8_t *)in;
    int rc = mode == FD_NORM_STRIP_SEP ? ref_norm_strip(&st, s, len, out)
                                       : ref_norm_keep(&st, s, len, out);
    cr_assert_eq(rc, 0);
    out->text[out->len] = '\0';
}

/* Text, NUL and map of GOT equal WANT's. */
static void assert_same(const fd_normbuf *got, const fd_normbuf *want, const char *what,
                        const char *in, size_t len)
{
    cr_assert_eq(got->len, want->len, "%s: length %zu, want %zu, input \"%s\"", what, got->len,
                 want->len, show(in, len));
    cr_assert(memcmp(got->text, want->text, want->len) == 0, "%s: text \"%s\", want \"%s\"", what,
              show(got->text, got->len), show(want->text, want->len));
    cr_assert_eq(got->text[got->len], '\0', "%s: not NUL-terminated", what);
    for (size_t j = 0; j < want->len; j++)
        cr_assert_eq(got->map[j], want->map[j], "%s: map[%zu] = %u, want %u, input \"%s\"", what, j,
                     got->map[j], want->map[j], show(in, len));
    if (strstr(what, "STRIP"))
        for (size_t j = 0; j < want->len; j++)
            cr_assert_eq(got->gap[j], want->gap[j], "%s: gap[%zu] = %u, want %u, input \"%s\"",
                         what, j, got->gap[j], want->gap[j], show(in, len));
}

static fd_normbuf rk, rs, dk, ds;

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Everything the normalizer offers for IN, against the reference: both
 * modes whole, fd_norm_both and fd_norm_both_checked (FD_EUTF8 exactly when
 * fd_utf8_valid says no), and streams fed in random pieces of whole
 * characters, per mode and both at once. */
static void check_against_reference(const char *in, size_t len, uint64_t *seed)
{
    ref_norm(in, len, FD_NORM_KEEP_SEP, &rk);
    ref_norm(in, len, FD_NORM_STRIP_SEP, &rs);
    cr_assert_eq(fd_norm(in, len, FD_NORM_KEEP_SEP, &dk), 0);
    assert_same(&dk, &rk, "fd_norm KEEP", in, len);
    cr_assert_eq(fd_norm(in, len, FD_NORM_STRIP_SEP, &ds), 0);
    assert_same(&ds, &rs, "fd_norm STRIP", in, len);
    cr_assert_eq(fd_norm_both(in, len, &dk, &ds), 0);
    assert_same(&dk, &rk, "fd_norm_both KEEP", in, len);
    assert_same(&ds, &rs, "fd_norm_both STRIP", in, len);
    int valid = fd_utf8_valid(in, len);
    int rc = fd_norm_both_checked(in, len, &dk, &ds);
    if (valid) {
        cr_assert_eq(rc, 0);
        assert_same(&dk, &rk, "fd_norm_both_checked KEEP", in, len);
        assert_same(&ds, &rs, "fd_norm_both_checked STRIP", in, len);
    } else {
        cr_assert_eq(rc, FD_EUTF8, "invalid input \"%s\" accepted", show(in, len));
        cr_assert(dk.len == 0 && ds.len == 0 && dk.text[0] == '\0' && ds.text[0] == '\0');
    }
    /* Streams: cut before any byte that is not a continuation byte, so
     * every valid character (and every invalid byte) stays whole. */
    fd_norm_state ks, ss, bk, bs;
    fd_norm_begin(&ks, FD_NORM_KEEP_SEP);
    fd_norm_begin(&ss, FD_NORM_STRIP_SEP);
    fd_norm_begin(&bk, FD_NORM_KEEP_SEP);
    fd_norm_begin(&bs, FD_NORM_STRIP_SEP);
    fd_normbuf *pk = &nb, *ps = &nb2;
    pk->len = ps->len = dk.len = ds.len = 0;
    size_t at = 0;
    do { /* at least one piece, maybe empty */
        size_t n = 1 + rnd(seed) % (rnd(seed) % 4 == 0 ? 4 : 200),
               end = at + n < len ? at + n : len;
        while (end < len && ((unsigned char)in[end] & 0xC0) == 0x80)
            end++;
        cr_assert_eq(fd_norm_feed(&ks, in + at, end - at, pk), 0);
        cr_assert_eq(fd_norm_feed(&ss, in + at, end - at, ps), 0);
        cr_assert_eq(fd_norm_feed_both(&bk, &bs, in + at, end - at, &dk, &ds), 0);
        at = end;
    } while (at < len);
    assert_same(pk, &rk, "stream KEEP", in, len);
    assert_same(ps, &rs, "stream STRIP", in, len);
    assert_same(&dk, &rk, "stream both KEEP", in, len);
    assert_same(&ds, &rs, "stream both STRIP", in, len);
    cr_assert(memcmp(&ks, &bk, sizeof ks) == 0 && memcmp(&ss, &bs, sizeof ss) == 0,
              "fd_norm_feed_both left other states than fd_norm_feed");
}

static void diff_setup(void)
{
    setup();
    fd_normbuf_init(&rk);
    fd_normbuf_init(&rs);
    fd_normbuf_init(&dk);
    fd_normbuf_init(&ds);
}

static void diff_teardown(void)
{
    teardown();
    fd_normbuf_free(&rk);
    fd_normbuf_free(&rs);
    fd_normbuf_free(&dk);
    fd_normbuf_free(&ds);
}

/* Debian's fortunes (Chinese: simplified and classical poetry, with ANSI
 * escapes and box drawing; English), cut into pieces of random lengths at
 * random bytes, so pieces may also start or end inside a character. */
Test(norm, fast_equals_reference_on_fortunes, .init = diff_setup, .fini = diff_teardown,
     .timeout = 300)
{
    static const char *files[] = {"chinese", "tang300", "song100", "wisdom"};
    uint64_t seed = 7;
    size_t found = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[256];
        snprintf(path, sizeof path, "/usr/share/games/fortunes/%s", files[f]);
        FILE *fp = fopen(path, "rb");
        if (!fp)
            continue;
        found++;
        char *buf = malloc(1 << 22);
        cr_assert(buf);
        size_t n = fread(buf, 1, 1 << 22, fp);
        fclose(fp);
        for (size_t at = 0; at < n;) {
            size_t l = 1 + rnd(&seed) % (rnd(&seed) % 8 == 0 ? 20000 : 1500);
            if (l > n - at)
                l = n - at;
            check_against_reference(buf + at, l, &seed);
            at += l;
        }
        free(buf);
    }
    if (!found)
        cr_log_warn("fortunes corpora not installed (fortunes-zh, fortunes): skipped");
}

/* Random soup of the pieces the fast paths care about: ASCII word runs of
 * every length (8-byte blocks and their ends), single and multiple
 * spaces, terminators before spaces, own-image and mapped CJK, CJK
 * punctuation, invisibles, line and paragraph separators, expanding
 * characters, 2- and 4-byte characters, random code points, and invalid
 * sequences next to all of them; lengths from 0 to past a slice. */
Test(norm, fast_equals_reference_on_random_soup, .init = diff_setup, .fini = diff_teardown,
     .timeout = 300)
{
    static const char *alphabet[] = {
        "a",
        "Z",
        "q",
        "7",
        "abcdefgh",
        "ABCDEFGHIJK",
        "word",
        "x1",
        " ",
        " ",
        " ",
        "  ",
        "   ",
        "    ",
        "\t",
        "\n",
        "\r\n",
        "\v",
        "\x1b",
        "\x7f",
        "\x01",
        ".",
        ",",
        "!",
        "?",
        ";",
        ":",
        ". ",
        ", ",
        "-",
        "*",
        "'",
        "\"",
        "(",
        ")",
        "_",
        "@",
        "[",
        "`",
        "{",
        "~",
        "炸",
        "弹",
        "中文",
        "彈",
        "製",
        "乾",
        "。",
        "，",
        "、",
        "！",
        "？",
        "“",
        "”",
        "《",
        "》",
        "─",
        "│",
        "…",
        "——",
        "\u3000",
        "\u200b",
        "\u200d",
        "\u00ad",
        "\ufeff",
        "\u202e",
        "\ufe0f",
        "\u2028",
        "\u2029",
        "\xc2\x85",
        "\u00a0",
        "Ｂ",
        "ｏ",
        "１",
        "①",
        "⑴",
        "ﬁ",
        "ß",
        "İ",
        "é",
        "e\u0301",
        "\u0336",
        "¨",
        "´",
        "㍿",
        "\ufdfa",
        "\u2f00",
        "가",
        "\u1100\u1161",
        "ا",
        "क",
        "𝐨",
        "💣",
        "\U00020000",
        "\U000E0062",
        "\xff",
        "\x80",
        "\xbf",
        "\xc0\xaf",
        "\xc2",
        "\xe7\x82",
        "\xe0\x80\x80",
        "\xe0\x9f\xbf",
        "\xed\xa0\x80",
        "\xed\xbf\xbf",
        "\xef\xbf",
        "\xf0\x80\x80\x80",
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xf0\x9f\x92",
    };
    size_t na = sizeof alphabet / sizeof *alphabet;
    uint64_t seed = 0x5EED;
    size_t cap = 70000;
    char *text = malloc(cap + 8);
    cr_assert(text);
    for (int iter = 0; iter < 6000; iter++) {
        size_t target = iter % 500 == 0 ? 20000 + rnd(&seed) % 45000 : rnd(&seed) % 120;
        /* Bias some texts towards one kind, as real text is. */
        int kind = (int)(rnd(&seed) % 4);
        size_t n = 0;
        while (n < target) {
            uint64_t r = rnd(&seed);
            if (r % 16 == 0) {
                /* A random code point, any plane (surrogates are then
                 * invalid bytes as in the wild). */
                uint32_t c = (uint32_t)(rnd(&seed) % 0x110000);
                if (c >= 0xD800 && c <= 0xDFFF)
                    c = 0x4E00 + c % 0x5000;
                n += put_utf8(text + n, c);
                continue;
            }
            const char *a = alphabet[(r >> 4) % na];
            if (kind == 1 && r % 3)
                a = alphabet[(r >> 4) % 29]; /* mostly ASCII */
            else if (kind == 2 && r % 3)
                a = alphabet[41 + (r >> 4) % 21]; /* mostly CJK */
            size_t l = strlen(a);
            memcpy(text + n, a, l);
            n += l;
        }
        check_against_reference(text, n, &seed);
    }
    /* Expanding characters past a slice: the up-front reservation. */
    for (size_t n = 0; n + 3 <= cap; n += 3)
        memcpy(text + n, "\xef\xb7\xba", 3);
    check_against_reference(text, cap - cap % 3, &seed);
    for (size_t n = 0; n < cap; n++)
        text[n] = (char)0xff;
    check_against_reference(text, cap, &seed);
    free(text);
}

/* ASCII prose for the 64-byte windows: words of every length (past 16
 * and 64 bytes), single and repeated blanks, line breaks alone and inside
 * white space runs, terminators before and after blanks, runs around the
 * noise limit, one-letter words before terminators, all at every offset
 * of a window and across its end; now and then a byte that cuts a window
 * (non-ASCII, invisible control, DEL, invalid) or a strong terminator
 * (their own fast path), and texts that start with separators, so the
 * windows also begin before anything was emitted. */
Test(norm, fast_equals_reference_on_ascii_prose, .init = diff_setup, .fini = diff_teardown,
     .timeout = 300)
{
    static const char *seps[] = {
        " ",
        " ",
        " ",
        " ",
        "  ",
        "   ",
        "    ",
        "\t",
        "\n",
        "\n\n",
        " \n",
        "\r\n",
        "\n ",
        "\v",
        "\f",
        ". ",
        ", ",
        "! ",
        "? ",
        "; ",
        ": ",
        ".",
        ",",
        "-",
        " - ",
        "--",
        "'",
        "\"",
        ".\" ",
        "!? ",
        " .",
        "...",
        ". . ",
        "(",
        ") ",
        "_",
        "*",
        "@",
        "[",
        "`",
        "{",
        "~",
        "/",
        ".\n",
        ",\t",
        "-*-*",
        /* bytes that cut a window, and strong terminators (mapped or
         * not: ，→ "," and 。) next to ASCII */
        "\x1b",
        "\x7f",
        "\x01",
        "\xc3\xa9",
        "\xe7\x82\xb8",
        "\xff",
        "\u200b",
        "\u3000",
        "。",
        "，",
        "、",
        "！",
        "：",
        "；",
        "？",
        "．",
        "｡",
        "､",
        "﹐",
        "﹒",
    };
    const size_t ncut = 20; /* the last ones */
    size_t ns = sizeof seps / sizeof *seps;
    uint64_t seed = 0xA5C11;
    char text[1200];
    for (int iter = 0; iter < 20000; iter++) {
        size_t target = rnd(&seed) % (iter % 10 == 0 ? 1100 : 200), n = 0;
        int cutting = (int)(rnd(&seed) % 3); /* 0: only ASCII separators without cuts */
        while (n < target && n + 80 < sizeof text) {
            uint64_t r = rnd(&seed);
            if (r % 2) {
                size_t wl = r % 50 == 1 ? 17 + (r >> 8) % 60 : 1 + (r >> 8) % 9;
                for (size_t k = 0; k < wl; k++) {
                    uint64_t c = rnd(&seed) % 62;
                    text[n++] = (char)(c < 10 ? '0' + c : c < 36 ? 'a' + c - 10 : 'A' + c - 36);
                }
            } else {
                const char *a = seps[(r >> 4) % (cutting ? ns : ns - ncut)];
                size_t l = strlen(a);
                memcpy(text + n, a, l);
                n += l;
            }
        }
        check_against_reference(text, n, &seed);
    }
}

Test(norm, both_rejects_bad_arguments)
{
    cr_assert_eq(fd_norm_both("x", 1, &nb, &nb), FD_EINVAL);
    fd_norm_state k, s;
    fd_norm_begin(&k, FD_NORM_KEEP_SEP);
    fd_norm_begin(&s, FD_NORM_STRIP_SEP);
    cr_assert_eq(fd_norm_feed_both(&s, &k, "x", 1, &nb, &nb2), FD_EINVAL); /* modes swapped */
    cr_assert_eq(fd_norm_feed(&k, "ab", 2, &nb), 0);
    cr_assert_eq(fd_norm_feed_both(&k, &s, "x", 1, &nb, &nb2), FD_EINVAL); /* out of step */
    cr_assert_eq(nb.len, 2);
    cr_assert_eq(nb2.len, 0);
    cr_assert_eq(fd_norm_both_checked("a\xffb", 3, &nb, &nb2), FD_EUTF8);
    cr_assert_eq(fd_norm_both_checked("ab", 2, &nb, &nb2), 0);
    cr_assert_str_eq(nb.text, "ab");
}
