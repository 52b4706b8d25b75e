/*
 * test_norm.c — the normalizer (filterd/engine/norm.c, docs/normalization.md):
 * exact output and offset map for evasion forms alone and combined, in
 * Chinese and English; sentence/clause breaks that must stay breaks; the
 * KEEP_SEP mode; idempotence over every code point and over random mixes;
 * map invariants; pattern equivalence (traditional/full-width vs
 * simplified/ASCII); buffer growth and reuse; the word-character helpers.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_error.h"
#include "norm.h"
#include "normtab.h"

static fd_normbuf nb, nb2;

static void setup(void) {
    fd_normbuf_init(&nb);
    fd_normbuf_init(&nb2);
}

static void teardown(void) {
    fd_normbuf_free(&nb);
    fd_normbuf_free(&nb2);
}

TestSuite(norm, .init = setup, .fini = teardown);

/* Printable form of normalized bytes for failure messages ('\n' shown as \n). */
static const char *show(const char *s, size_t n) {
    static char buf[4][1024];
    static int k;
    char *b = buf[k++ & 3];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < sizeof buf[0]; i++) {
        if (s[i] == '\n') { b[o++] = '\\'; b[o++] = 'n'; }
        else b[o++] = s[i];
    }
    b[o] = '\0';
    return b;
}

/* Parse "0 3 6" into MAP; returns the count. */
static size_t parse_map(const char *s, uint32_t *map, size_t max) {
    size_t n = 0;
    char *end;
    for (;;) {
        unsigned long v = strtoul(s, &end, 10);
        if (end == s) break;
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

static void run_cases(const ncase *cs, size_t n, fd_norm_mode mode) {
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

Test(norm, strip_evasion_forms) {
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
    {"b    o", "b\no", "0 1 5"},     /* 4 separators: too long for noise */
    {"b-*-*o", "b\no", "0 1 5"},
    {"爆炸. 弹片", "爆炸\n弹片", "0 0 0 3 3 3 6 8 8 8 11 11 11"},
    /* edges: leading and trailing runs vanish, never a leading/trailing break */
    {"  bomb!! ", "bomb", "2 3 4 5"},
    {"。炸弹。", "炸弹", "3 3 3 6 6 6"},
    {"\n\nbomb\n", "bomb", "2 3 4 5"},
    {"", "", ""},
    {" \u200b .", "", ""},
    /* near-misses that stay noise */
    {"U.S. Army", "usarmy", "0 2 5 6 7 8"},
    {"bo .mb", "bomb", "0 1 4 5"}, /* white space before the stop, not after */
};

Test(norm, strip_breaks_and_edges) {
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
    {"a ¨ b", "a b", "0 1 5"},    /* spacing accent: empty image, white space stays one run */
    {"b\u0336o\u0336", "bo", "0 3"},
    {"  x  ", "x", "2"},            /* leading and trailing white space vanish */
    {"\u200b\n x\u3000\u200b", "x", "5"},
    {"⑴ x", "1 x", "0 3 4"},
    {"炸💣弹", "炸💣弹", "0 0 0 3 3 3 3 7 7 7"},
    {"b\xffo", "b\xef\xbf\xbdo", "0 1 1 1 2"}, /* invalid byte → U+FFFD */
};

Test(norm, keep_mode) {
    run_cases(keep_cases, sizeof keep_cases / sizeof *keep_cases, FD_NORM_KEEP_SEP);
}

Test(norm, invalid_utf8_is_a_separator_in_strip_mode) {
    /* Truncated and overlong sequences, a lone continuation byte, a
     * surrogate: each byte reads as U+FFFD, never past the end. */
    static const ncase c[] = {
        {"b\xffo", "bo", "0 2"},
        {"b\xe7\x82", "b", "0"},
        {"b\xc0\xafo", "bo", "0 3"},
        {"\x80" "b", "b", "1"},
        {"b\xed\xa0\x80o", "bo", "0 4"},
        {"b\xf4\x90\x80\x80o", "b\no", "0 1 5"}, /* four bad bytes: four separators */
        {"b\xff\xff\xff\xffo", "b\no", "0 1 5"}, /* four separators: a break */
    };
    run_cases(c, sizeof c / sizeof *c, FD_NORM_STRIP_SEP);
}

/* Sentences that must not glue into a keyword. */
Test(norm, no_keyword_across_sentences) {
    static const char *texts[] = {
        "昨天发生爆炸。弹片四溅",
        "昨天发生爆炸，弹片四溅",
        "昨天发生爆炸！\n弹片四溅",
        "It was a good jo. Bomb squads arrived",
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
Test(norm, pattern_spellings_agree) {
    static const char *pairs[][2] = {
        {"炸彈", "炸弹"},           {"製造炸彈", "制造炸弹"},   {"恐怖襲擊", "恐怖袭击"},
        {"開槍", "开枪"},           {"爆炸裝置", "爆炸装置"},   {"毒品販賣", "毒品贩卖"},
        {"ＢＯＭＢ", "bomb"},       {"Ｋｉｌｌ ｙｏｕ", "kill you"}, {"ＡＫ－４７", "ak-47"},
        {"𝐁𝐨𝐦𝐛", "Bomb"},           {"炸\u200b彈", "炸弹"},     {"①②③", "123"},
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

static size_t put_utf8(char *b, uint32_t c) {
    if (c < 0x80) { b[0] = (char)c; return 1; }
    if (c < 0x800) { b[0] = (char)(0xC0 | c >> 6); b[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        b[0] = (char)(0xE0 | c >> 12); b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | c >> 18); b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((c >> 6) & 0x3F)); b[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 character at S (N bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return 1;
    size_t l = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (l == 0 || l > n || s[0] > 0xF4) return 0;
    for (size_t k = 1; k < l; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return l;
}

/* Check the contract of one result: valid UTF-8 out; every map value on a
 * character boundary of the (valid) input, inside it, non-decreasing; all
 * bytes of one output character from one input character; in STRIP mode
 * only word characters and single inner breaks. */
static void check_invariants(const char *in, size_t len, const fd_normbuf *b, fd_norm_mode mode) {
    const unsigned char *u = (const unsigned char *)in;
    for (size_t i = 0; i < b->len;) {
        size_t l = utf8_len((const unsigned char *)b->text + i, b->len - i);
        cr_assert_gt(l, 0, "invalid UTF-8 out at %zu", i);
        for (size_t k = 0; k < l; k++) {
            uint32_t m = b->map[i + k];
            cr_assert_lt(m, len);
            cr_assert_neq(u[m] & 0xC0, 0x80, "map[%zu] = %u is not a character boundary", i + k, m);
            cr_assert_eq(m, b->map[i], "one output character from two input characters");
            if (i + k > 0) cr_assert_geq(m, b->map[i + k - 1], "map decreases at %zu", i + k);
        }
        if (mode == FD_NORM_STRIP_SEP) {
            if (b->text[i] == FD_NORM_BREAK) {
                cr_assert(i > 0 && i + 1 < b->len, "leading or trailing break");
                cr_assert_neq(b->text[i + 1], FD_NORM_BREAK, "two breaks in a row");
            } else {
                cr_assert(fd_norm_word_at(b->text, b->len, i), "non-word character in STRIP output");
            }
        }
        i += l;
    }
}

static void check_idempotent(const char *in, size_t len, fd_norm_mode mode) {
    cr_assert_eq(fd_norm(in, len, mode, &nb), 0);
    check_invariants(in, len, &nb, mode);
    cr_assert_eq(fd_norm(nb.text, nb.len, mode, &nb2), 0);
    cr_assert(nb.len == nb2.len && memcmp(nb.text, nb2.text, nb.len) == 0,
              "mode %d: not idempotent: \"%s\" → \"%s\" → \"%s\"", mode, show(in, len),
              show(nb.text, nb.len), show(nb2.text, nb2.len));
}

/* Every code point alone between two letters, in both modes; then the
 * whole range in one text (exercises buffer growth too). */
Test(norm, idempotent_over_all_code_points, .timeout = 120) {
    char buf[16];
    for (uint32_t c = 0; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
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
        if (c < 0xD800 || c > 0xDFFF) n += put_utf8(all + n, c);
    check_idempotent(all, n, FD_NORM_STRIP_SEP);
    check_idempotent(all, n, FD_NORM_KEEP_SEP);
    free(all);
}

/* Random mixes of the characters that matter (letters, CJK, separators,
 * terminators, invisibles, expanding characters), deterministic seed. */
Test(norm, idempotent_and_invariants_on_random_mixes) {
    static const char *alphabet[] = {
        "a", "B", "z", "0", " ", "  ", "\t", "\n", "\r\n", ".", ",", "!", "?", ";", "-", "*", "'",
        "\"", "炸", "彈", "弹", "製", "。", "，", "、", "！", "？", "；", "\u3000", "\u200b", "\u200d",
        "\u00ad", "\ufeff", "\u202e", "\ufe0f", "Ｂ", "ｏ", "！", "①", "⑴", "ﬁ", "ß", "İ", "𝐨",
        "\u0301", "\u0336", "¨", "㍿", "\ufdfa", "💣", "\u2028", "…", "——", "é", "e\u0301", "가",
        "\u1100\u1161", "ا", "\u064e", "क", "\u093f", "\xff", "\xe7\x82",
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
            if (!l) { valid = 0; break; }
            i += l;
        }
        for (int mode = 0; mode <= 1; mode++) {
            if (valid) check_idempotent(text, n, (fd_norm_mode)mode);
            else cr_assert_eq(fd_norm(text, n, (fd_norm_mode)mode, &nb), 0);
        }
    }
}

/* Normalizing a prefix of a text (cut on a character boundary) gives a
 * prefix of the normalized whole, map included, in both modes: a stream
 * can be normalized as it arrives. */
Test(norm, prefix_of_input_gives_prefix_of_output) {
    static const char *alphabet[] = {
        "a", "Z", "0", " ", "\t", "\n", ".", ",", "!", "-", "炸", "彈", "。", "，", "\u3000",
        "\u200b", "Ｂ", "①", "ﬁ", "\u0301", "㍿", "💣", "\u2028", "¨",
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
                if (cut < n && ((unsigned char)text[cut] & 0xC0) == 0x80) continue;
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
Test(norm, only_breaks_produce_the_break_byte) {
    char buf[16];
    for (uint32_t c = 0x80; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
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

Test(norm, expanding_input_grows_the_buffer) {
    /* ㍿ (3 bytes) → 株式会社 (12 bytes); U+FDFA (3 bytes) → 30 bytes. */
    size_t reps = 5000;
    char *in = malloc(reps * 3 + 1);
    cr_assert(in);
    for (size_t i = 0; i < reps; i++) memcpy(in + 3 * i, "㍿", 3);
    cr_assert_eq(fd_norm(in, reps * 3, FD_NORM_STRIP_SEP, &nb), 0);
    cr_assert_eq(nb.len, reps * 12);
    for (size_t i = 0; i < reps; i++) {
        cr_assert(memcmp(nb.text + 12 * i, "株式会社", 12) == 0);
        cr_assert_eq(nb.map[12 * i], 3 * i);
        cr_assert_eq(nb.map[12 * i + 11], 3 * i);
    }
    for (size_t i = 0; i < reps; i++) memcpy(in + 3 * i, "\xef\xb7\xba", 3); /* U+FDFA */
    cr_assert_eq(fd_norm(in, reps * 3, FD_NORM_KEEP_SEP, &nb), 0);
    cr_assert_eq(nb.len % reps, 0);
    cr_assert_gt(nb.len / reps, 20);
    free(in);
}

Test(norm, buffer_reuse_and_no_allocation_when_big_enough) {
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

Test(norm, bad_mode_is_einval) {
    cr_assert_eq(fd_norm("x", 1, (fd_norm_mode)7, &nb), FD_EINVAL);
    cr_assert_eq(nb.len, 0);
}

Test(norm, word_helpers) {
    const char *t = "ab,炸 x";
    size_t n = strlen(t);
    cr_assert(fd_norm_word_at(t, n, 0));
    cr_assert(!fd_norm_word_at(t, n, 2));   /* ',' */
    cr_assert(fd_norm_word_at(t, n, 3));    /* 炸 */
    cr_assert(!fd_norm_word_at(t, n, 6));   /* ' ' */
    cr_assert(!fd_norm_word_at(t, n, n));
    cr_assert(!fd_norm_word_before(t, 0));
    cr_assert(fd_norm_word_before(t, 2));   /* 'b' */
    cr_assert(!fd_norm_word_before(t, 3));  /* ',' */
    cr_assert(fd_norm_word_before(t, 6));   /* 炸 */
    cr_assert(fd_norm_word_before(t, n));   /* 'x' */
}

Test(norm, version_names_the_tables) {
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
        "  leading and trailing  ", "a -- b", "f. u. c. k", "\u200b\u200b", "x\n\ny",
        "U.S. Army, 1. 2. 3.", "炸 。 弹", "ﬁ ß ① ⑴ ㈠ Ǆ", ""};
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
                    cr_assert_eq(part.len, whole.len, "mode %d text %zu split %zu/%zu", mode, t,
                                 a, b);
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
