/*
 * fuzz_common.h — helpers shared by the libFuzzer harnesses: a strict UTF-8
 * character-boundary map (a byte that does not start a valid RFC 3629
 * sequence is a character of its own, as the normalizer reads it), the
 * fixed categories, and an abort that says why.
 */
#ifndef FD_FUZZ_COMMON_H
#define FD_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_error.h"
#include "rules.h"

#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (%s:%d): ", #cond, __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Length of the valid UTF-8 sequence at S[I], or 0 if none starts there. */
static inline size_t fz_seq_len(const unsigned char *s, size_t len, size_t i)
{
    unsigned c = s[i];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t min, cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len - i < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* B[i] = 1 where a character starts (and B[len] = 1). B has LEN+1 bytes.
 * Returns whether the whole text was valid. */
static inline int fz_boundaries(const char *text, size_t len, unsigned char *b)
{
    const unsigned char *s = (const unsigned char *)text;
    int valid = 1;
    memset(b, 0, len + 1);
    for (size_t i = 0; i < len;) {
        size_t n = fz_seq_len(s, len, i);
        b[i] = 1;
        if (!n) {
            valid = 0;
            n = 1;
        }
        i += n;
    }
    b[len] = 1;
    return valid;
}

/* Parse TEXT as categories.tsv into RL, aborting on failure. */
static inline void fz_categories(fd_rulelist *rl, const char *text)
{
    fd_diag d = FD_DIAG_INIT;
    int r = fd_rules_parse_categories(rl, "categories.tsv", text, strlen(text), &d);
    if (r) {
        char *all = fd_diag_join(&d);
        fprintf(stderr, "fuzz: categories: %s\n%s\n", fd_strerror(r), all ? all : "");
        abort();
    }
    fd_diag_free(&d);
}

/* The bundled rules/categories.tsv, read once (the harnesses run from the
 * source tree's build; FD_SOURCE_DIR is set by CMake). */
static inline char *fz_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz: cannot read %s\n", path);
        abort();
    }
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    buf[len] = '\0';
    return buf;
}

/* The fixed rule set of fuzz_scan and fuzz_stream: literals (Chinese and
 * Latin, evasion-prone), word rules, regexes in every view incl. look-behind
 * and look-ahead (PCRE2-confirmed), allow rules, @all combos with and without
 * @within and a negated part, @validate PII rules, an unbounded raw regex. */
#define FZ_CATEGORIES                                                                              \
    "A1.3\t宣扬分裂国家\tSecession\t(1)\n"                                                   \
    "A1.4\t宣扬恐怖主义、极端主义\tPromoting terrorism or extremism\t(1)\n"             \
    "A1.6\t宣扬暴力、淫秽色情\tPromoting violence, obscenity or pornography\t(1)\n"       \
    "A4.6\t侵害他人个人信息权益\tInfringing personal-information rights\t(4)\n"

static const char FZ_RULES[] =
    "@category A1.4\n"
    "@id zh.bomb\n炸弹\n"
    "@id zh.make-bomb\n制造炸弹\n"
    "@id en.bomb\nbomb\n"
    "@id en.nail-bomb\nnail bomb\n"
    "@action flag\n"
    "@id zh.attack\n恐怖袭击\n"
    "@match word\n"
    "@id w.kill\nkill\n"
    "@id w.ass\nass\n"
    "@id w.re\n/\\b(?<!not )support (tibet|xinjiang) independence\\b/\n"
    "@match normalized\n"
    "@id re.weapon\n/枪支?(买卖|交易)/\n"
    "@id re.end\n/the end$/\n"
    "@id re.start\n/^hello/m\n"
    "@action allow\n"
    "@id allow.bath\nbath bomb\n"
    "@category A1.3\n"
    "@action block\n"
    "@id re.lookbehind\n/(?<![不没未别非勿否莫]|不会|不再|从不|绝不|反对)支持(台独|藏独|疆独)/\n"
    "@category A1.6\n"
    "@action block\n"
    "@id zh.oral\n口交\n"
    "@action allow\n"
    "@id allow.junction\n路口交通\n"
    "@category A4.6\n"
    "@action flag\n"
    "@match raw\n"
    "@id pii.mobile\n/(?<![0-9A-Za-z_\\/])(\\+86[- ]?)?1[3-9][0-9]{9}(?![0-9A-Za-z_\\/])/\n"
    "@validate cn-id\n"
    "@id pii.cn-id\n/(?<![0-9])[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
    "[0-9]{3}[0-9Xx](?![0-9])/\n"
    "@validate luhn\n"
    "@id pii.card\n/(?<![0-9A-Za-z_\\/-])(62[0-9]{2}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]{4,7}|"
    "4[0-9]{3}(?:[ -]?[0-9]{4}){3})(?![0-9A-Za-z_\\/-])/\n"
    "@validate cn-uscc\n"
    "@id "
    "pii.uscc\n/"
    "(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])/\n"
    "@validate none\n"
    "@id raw.unbounded\n/X{3,}Y/\n"
    "@id raw.dotall\n/BEGIN.{0,20}END/s\n"
    "@action allow\n"
    "4111111111111111\n"
    "@category A1.4\n"
    "@action block\n"
    "@match normalized\n"
    "@within 8\n"
    "@id combo.near\n@all 枪支 && 出售\n"
    "@within 0\n"
    "@action flag\n"
    "@id combo.neg\n@all 毒品 && 运输 && !新闻\n"
    "@match word\n"
    "@id combo.word\n@all kill && /contract\\s+price/\n";

/* Compile FZ_RULES (aborts on failure); or, when the environment names a
 * rule directory in FILTERD_FUZZ_RULES (e.g. the bundled rules/), load
 * that instead. */
#include "ruleset.h"
static inline fd_ruleset *fz_fixed_ruleset(void)
{
    const char *dir = getenv("FILTERD_FUZZ_RULES");
    if (dir && *dir) {
        fd_diag d = FD_DIAG_INIT;
        fd_ruleset *rs = NULL;
        int r = fd_ruleset_load(dir, &rs, &d);
        if (r) {
            char *all = fd_diag_join(&d);
            fprintf(stderr, "fuzz: %s: %s\n%s\n", dir, fd_strerror(r), all ? all : "");
            abort();
        }
        fd_diag_free(&d);
        fprintf(stderr, "fuzz: rule set %s (%zu rules)\n", dir, fd_ruleset_nrules(rs));
        return rs;
    }
    fd_rulelist rl;
    fd_rulelist_init(&rl);
    fz_categories(&rl, FZ_CATEGORIES);
    fd_diag d = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    int r = fd_rules_parse_file(&rl, "fuzz.rules", FZ_RULES, sizeof FZ_RULES - 1, &d);
    if (r == 0)
        r = fd_ruleset_compile(&rl, &rs, &d);
    if (r) {
        char *all = fd_diag_join(&d);
        fprintf(stderr, "fuzz: fixed rules: %s\n%s\n", fd_strerror(r), all ? all : "");
        abort();
    }
    fd_diag_free(&d);
    return rs;
}

#endif
