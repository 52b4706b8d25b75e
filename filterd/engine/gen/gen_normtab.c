/*
 * gen_normtab.c — build-time generator of the normalizer's lookup tables.
 *
 * Usage: gen_normtab UNICODE_DIR DATA_DIR OUT.c OUT.h
 *
 *   UNICODE_DIR          holds PropList.txt and DerivedCoreProperties.txt
 *                        (Debian package unicode-data: /usr/share/unicode)
 *   DATA_DIR             Unihan_Variants.txt, Unihan_OtherMappings.txt and
 *                        Unihan_DictionaryLikeData.txt (decompressed from
 *                        unicode-data), TSCharacters.txt and
 *                        JPVariantsRev.txt (OpenCC's dictionaries dumped
 *                        as text by opencc_dict)
 *
 * For every code point the generator decides a class (word character,
 * invisible, white space, line break, punctuation, weak or strong clause
 * terminator; see rules/README.md §5) and an image: the UTF-8 the
 * normalizer emits for it. The image is the fixpoint of
 *
 *     f(s) = fold(NFC(strip_diacritics(NFKD(casefold(s)))))
 *
 * computed by libutf8proc (NFKD + full case folding, then NFC), where fold
 * replaces each code point by, in this order of precedence: its simplified
 * form (OpenCC TSCharacters and Unihan kSimplifiedVariant, see load_t2s),
 * its standard Han variant (Unihan kZVariant / kSpoofingVariant /
 * kSemanticVariant, see pick_variants), or the ASCII letter it looks like
 * (UTS #39 confusables through ICU, see load_confusables). This is
 * Unicode's per-code-point NFKC_Casefold mapping plus folds of our own.
 *
 * Images are then sanitised so the normalizer is idempotent:
 *   - a word character's image keeps only word code points (⑴ → "1",
 *     ㏂ "a.m." → "am", ™ → "tm");
 *   - a separator's image keeps only punctuation/symbol code points
 *     (¨ → "" rather than " ̈");
 * and the generator checks that every code point of every image maps to
 * itself with a compatible class, failing the build otherwise.
 *
 * Output: a two-stage table (code point >> SHIFT → block, block → 16-bit
 * entry index), a table of distinct 32-bit entries, the image pool, and
 * 128-entry ASCII tables for the fast path. SHIFT is chosen to minimise the
 * total size.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <utf8proc.h>

#define NCP           0x110000
#define MAX_IMG_CPS   64 /* code points in one image, generously */
#define MAX_IMG_BYTES 63 /* must fit the 6-bit length field of an entry */

/* Keep in sync with the enum written to normtab.h (it is written from here). */
enum { C_WORD, C_INVIS, C_SPACE, C_NL, C_PUNCT, C_TERM, C_BREAK, C_NCLASS };
static const char *const class_names[C_NCLASS] = {"FD_NC_WORD", "FD_NC_INVIS", "FD_NC_SPACE",
                                                  "FD_NC_NL",   "FD_NC_PUNCT", "FD_NC_TERM",
                                                  "FD_NC_BREAK"};

static uint8_t *is_di;   /* Default_Ignorable_Code_Point */
static uint8_t *is_ws;   /* White_Space */
static uint8_t *is_term; /* Terminal_Punctuation */
static int32_t *t2s;     /* traditional → simplified (see load_t2s) or -1 */
static int32_t *var;     /* Han variant → standard form (see pick_variants) or -1 */
static int32_t *conf;    /* look-alike letter → ASCII letter (see confusables) or -1 */

typedef struct image {
    int32_t cp[MAX_IMG_CPS];
    int n;
} image;

static uint8_t cls[NCP];
static image *img; /* final image per code point */

/* Print "gen_normtab: WHAT DETAIL" and fail the build. */
static void die(const char *what, const char *detail)
{
    fprintf(stderr, "gen_normtab: %s%s\n", what, detail);
    exit(1);
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (!p)
        die("out of memory", "");
    return p;
}

/* Set FLAGS[cp] for every code point listed with property PROP in a UCD
 * file of the "XXXX..YYYY ; Property # comment" form. */
static void load_prop(const char *path, const char *prop, uint8_t *flags)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open ", path);
    char line[1024];
    size_t plen = strlen(prop);
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *semi = strchr(line, ';');
        if (!semi)
            continue;
        char *p = semi + 1;
        while (*p == ' ')
            p++;
        if (strncmp(p, prop, plen) != 0 || (p[plen] != ' ' && p[plen] != '#' && p[plen] != '\n'))
            continue;
        unsigned long lo, hi;
        char *end;
        lo = strtoul(line, &end, 16);
        hi = lo;
        if (end[0] == '.' && end[1] == '.')
            hi = strtoul(end + 2, NULL, 16);
        if (hi >= NCP || lo > hi)
            die("bad range in ", path);
        for (unsigned long c = lo; c <= hi; c++)
            flags[c] = 1;
        found++;
    }
    fclose(f);
    if (!found)
        die("property not found in ", path);
}

/* Open a data file or fail the build. */
static FILE *xopen(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open ", path);
    return f;
}

/* Parse "U+XXXX" at P into a code point (-1 if it is not one). */
static int32_t ucp(const char *p)
{
    if (strncmp(p, "U+", 2) != 0)
        return -1;
    long c = strtol(p + 2, NULL, 16);
    return c > 0 && c < NCP ? (int32_t)c : -1;
}

/* Candidates per code point from a "U+X<TAB>FIELD<TAB>U+Y[<src] U+Z..."
 * Unihan file: up to 8 each, in the order listed. */
#define MAXCAND 8
typedef struct cands {
    int32_t c[MAXCAND];
    uint8_t n;
} cands;

static void add_cand(cands *tab, int32_t from, int32_t to)
{
    cands *k = &tab[from];
    for (int i = 0; i < k->n; i++)
        if (k->c[i] == to)
            return;
    if (k->n < MAXCAND)
        k->c[k->n++] = to;
}

/* Read FIELD of a Unihan file into TAB; returns the number of lines. */
static int load_unihan_field(const char *dir, const char *file, const char *field, cands *tab)
{
    FILE *f = xopen(dir, file);
    char line[4096];
    size_t fl = strlen(field);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab1 = strchr(line, '\t');
        if (!tab1 || strncmp(tab1 + 1, field, fl) != 0 || tab1[1 + fl] != '\t')
            continue;
        int32_t from = ucp(line);
        if (from < 0)
            die("bad code point in ", file);
        for (char *v = tab1 + 2 + fl; (v = strstr(v, "U+")) != NULL; v += 2) {
            int32_t to = ucp(v);
            if (to < 0)
                die("bad variant in ", file);
            add_cand(tab, from, to);
        }
        n++;
    }
    fclose(f);
    return n;
}

/* Read a numeric Unihan field (kFrequency) or a presence field (kGB0:
 * value 1) into VAL. */
static int load_unihan_value(const char *dir, const char *file, const char *field, int *val,
                             int presence)
{
    FILE *f = xopen(dir, file);
    char line[4096];
    size_t fl = strlen(field);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab1 = strchr(line, '\t');
        if (!tab1 || strncmp(tab1 + 1, field, fl) != 0 || tab1[1 + fl] != '\t')
            continue;
        int32_t c = ucp(line);
        if (c < 0)
            die("bad code point in ", file);
        val[c] = presence ? 1 : atoi(tab1 + 2 + fl);
        n++;
    }
    fclose(f);
    return n;
}

/* Decode one UTF-8 character at *P (advancing it); -1 at the end or on a
 * bad byte. */
static int32_t next_cp(const char **p)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)*p, -1, &c);
    if (l <= 0 || c == 0)
        return -1;
    *p += l;
    return c;
}

/* Read an OpenCC dictionary dumped as text ("FROM<TAB>TO1 TO2 ...", one
 * character FROM; opencc_dict -t text) into TAB. */
static int load_opencc(const char *dir, const char *file, cands *tab)
{
    FILE *f = xopen(dir, file);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = line;
        int32_t from = next_cp(&p);
        if (from < 0 || *p != '\t')
            continue; /* a phrase, not a character */
        p++;
        while (*p && *p != '\n') {
            int32_t to = next_cp(&p);
            if (to < 0)
                break;
            if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\0') {
                add_cand(tab, from, to);
            } else { /* a multi-character target: skip it */
                while (*p && *p != ' ' && *p != '\n')
                    p++;
            }
            while (*p == ' ' || *p == '\t')
                p++;
        }
        n++;
    }
    fclose(f);
    return n;
}

/*
 * Traditional → simplified, per character, from OpenCC's TSCharacters
 * (libopencc) and Unihan's kSimplifiedVariant. A character with one target
 * maps to it; one whose targets include the character itself is
 * ambiguous (乾: 干 or 乾, 覆: 覆 or 复, 著: 著 or 着 — which one only the
 * phrase tells) and is left alone rather than guessed. OpenCC's list wins
 * where both have the character. Japanese shinjitai go to their
 * traditional form first (OpenCC JPVariantsRev: 弾 → 彈), which then
 * simplifies (→ 弹); shinjitai that are also simplified Chinese (装, in
 * GB 2312: Unihan kGB0) stay.
 */
static void load_t2s(const char *unihan_dir, const char *opencc_dir)
{
    cands *uni = xcalloc(NCP, sizeof *uni), *occ = xcalloc(NCP, sizeof *occ),
          *jp = xcalloc(NCP, sizeof *jp);
    if (load_unihan_field(unihan_dir, "Unihan_Variants.txt", "kSimplifiedVariant", uni) < 1000)
        die("too few kSimplifiedVariant entries", "");
    if (load_opencc(opencc_dir, "TSCharacters.txt", occ) < 1000)
        die("too few entries in OpenCC's TSCharacters", "");
    if (load_opencc(opencc_dir, "JPVariantsRev.txt", jp) < 100)
        die("too few entries in OpenCC's JPVariantsRev", "");
    int *gb0 = xcalloc(NCP, sizeof *gb0);
    if (load_unihan_value(unihan_dir, "Unihan_OtherMappings.txt", "kGB0", gb0, 1) < 6000)
        die("too few kGB0 entries", "");
    for (int32_t c = 0; c < NCP; c++) {
        const cands *k = occ[c].n ? &occ[c] : &uni[c];
        int self = 0;
        for (int i = 0; i < k->n; i++)
            self |= k->c[i] == c;
        if (k->n && !self)
            t2s[c] = k->c[0];
        else if (!k->n && !gb0[c] && jp[c].n == 1 && jp[c].c[0] != c)
            t2s[c] = jp[c].c[0]; /* not 装 → 裝: 装 is simplified Chinese too */
    }
    free(gb0);
    free(uni);
    free(occ);
    free(jp);
}

static int32_t t2s_star(int32_t c)
{
    for (int i = 0; i < 8 && t2s[c] >= 0; i++)
        c = t2s[c];
    return c;
}

/*
 * Variant Han characters outside everyday simplified Chinese (not in
 * GB 2312, Unihan kGB0) and without a traditional → simplified mapping:
 * Japanese and old forms (氷), look-alike spoofing forms. Each maps to the
 * variant Unihan lists for it (kZVariant, then kSpoofingVariant, then
 * kSemanticVariant) that, simplified, is in GB 2312 — the most frequent
 * one by Unihan's kFrequency if several are, else the first listed
 * (氷 → 冰, not the radical 冫). Characters in GB 2312 are never changed.
 */
static void pick_variants(const char *unihan_dir)
{
    cands *z = xcalloc(NCP, sizeof *z), *sp = xcalloc(NCP, sizeof *sp),
          *se = xcalloc(NCP, sizeof *se);
    int *gb0 = xcalloc(NCP, sizeof *gb0), *freq = xcalloc(NCP, sizeof *freq);
    if (load_unihan_field(unihan_dir, "Unihan_Variants.txt", "kZVariant", z) < 50 ||
        load_unihan_field(unihan_dir, "Unihan_Variants.txt", "kSpoofingVariant", sp) < 100 ||
        load_unihan_field(unihan_dir, "Unihan_Variants.txt", "kSemanticVariant", se) < 1000)
        die("too few Unihan variant entries", "");
    if (load_unihan_value(unihan_dir, "Unihan_OtherMappings.txt", "kGB0", gb0, 1) < 6000)
        die("too few kGB0 entries", "");
    if (load_unihan_value(unihan_dir, "Unihan_DictionaryLikeData.txt", "kFrequency", freq, 0) <
        1000)
        die("too few kFrequency entries", "");
    for (int32_t c = 0; c < NCP; c++) {
        if (gb0[c] || t2s[c] >= 0)
            continue;
        const cands *lists[3] = {&z[c], &sp[c], &se[c]};
        for (int l = 0; l < 3; l++) {
            int32_t best = -1;
            int bf = 0;
            for (int i = 0; i < lists[l]->n; i++) {
                int32_t v = t2s_star(lists[l]->c[i]);
                if (v == c || !gb0[v])
                    continue;
                int f = freq[v] ? freq[v] : 100;
                if (best < 0 || f < bf)
                    best = v, bf = f;
            }
            if (best >= 0) {
                var[c] = best;
                break;
            }
        }
    }
    free(z);
    free(sp);
    free(se);
    free(gb0);
    free(freq);
}

/* The ASCII letter a Latin letter is named after, from its Unicode name
 * (ICU u_charName): "LATIN SMALL LETTER D WITH STROKE" (đ) → 'd', "LATIN
 * SMALL LETTER OPEN E" (ɛ) → 'e', "LATIN LETTER SMALL CAPITAL K" (ᴋ) →
 * 'k', "LATIN SMALL LETTER DOTLESS I" → 'i'. Letters named after two
 * letters or none (æ, ð, þ) give 0. */
static int latin_base(int32_t c)
{
    char name[256];
    UErrorCode st = U_ZERO_ERROR;
    u_charName(c, U_UNICODE_CHAR_NAME, name, sizeof name, &st);
    if (U_FAILURE(st))
        return 0;
    static const char *const prefix[] = {"LATIN SMALL LETTER ", "LATIN CAPITAL LETTER ",
                                         "LATIN LETTER SMALL CAPITAL "};
    static const char *const adj[] = {"OPEN ", "SCRIPT ", "DOTLESS ", "BARRED ", ""};
    for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++) {
        size_t pl = strlen(prefix[i]);
        if (strncmp(name, prefix[i], pl) != 0)
            continue;
        for (size_t j = 0; j < sizeof adj / sizeof *adj; j++) {
            const char *p = name + pl;
            size_t al = strlen(adj[j]);
            if (strncmp(p, adj[j], al) != 0)
                continue;
            p += al;
            if (p[0] >= 'A' && p[0] <= 'Z' && (p[1] == '\0' || strncmp(p + 1, " WITH ", 6) == 0))
                return p[0] + 32;
        }
    }
    return 0;
}

/* The one ASCII lower-case letter the string S (N code points) folds to
 * (case folding, compatibility decomposition, generic diacritics gone), or
 * 0 if it folds to anything else. */
static int fold_to_ascii_letter(const int32_t *s, int n);

/*
 * Look-alike letters (UTS #39 confusables, through ICU's spoof checker,
 * libicu): a non-ASCII letter whose skeleton (uspoof_getSkeleton) folds
 * to one ASCII letter maps to it — Cyrillic а е о р с х у і ј ѕ һ, Greek
 * ο α ν ι ρ, Latin ɑ ɡ ı … — and, when the skeleton is another Latin
 * letter, to the letter that one is named after (Greek ε → ɛ "OPEN E" →
 * e; ĸ, đ, ɫ). Only letters: digits and symbols used as letters (leet)
 * depend on the word around them and are not folded here.
 */
/* ICU's skeleton of the one code point C, as code points into OUT (at most
 * 64); returns their number (0 on error). */
static int skeleton(USpoofChecker *sc, int32_t c, int32_t *out)
{
    UChar in[4], o16[64];
    int32_t il = 0;
    U16_APPEND_UNSAFE(in, il, c);
    UErrorCode st = U_ZERO_ERROR;
    int32_t ol = uspoof_getSkeleton(sc, 0, in, il, o16, 64, &st);
    if (U_FAILURE(st) || ol <= 0)
        return 0;
    int n = 0;
    for (int32_t k = 0; k < ol && n < 64;) {
        UChar32 u;
        U16_NEXT(o16, k, ol, u);
        out[n++] = u;
    }
    return n;
}

static void load_confusables(void)
{
    UErrorCode st = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&st);
    if (U_FAILURE(st))
        die("uspoof_open: ", u_errorName(st));
    int n = 0;
    for (int32_t c = 0x80; c < NCP; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        utf8proc_category_t cat = utf8proc_category(c);
        if ((cat != UTF8PROC_CATEGORY_LL && cat != UTF8PROC_CATEGORY_LU &&
             cat != UTF8PROC_CATEGORY_LT && cat != UTF8PROC_CATEGORY_LO) ||
            utf8proc_charwidth(c) >= 2)
            continue; /* letters only, and no Han or other wide ones (丨 is not l) */
        /* The skeleton of the letter, then of its upper case (к → ĸ, but
         * К → K; ε → ꞓ, but Ε → E): lower-case look-alikes are written
         * for the letter they resemble in either case. */
        int32_t sk[64];
        int sn = skeleton(sc, c, sk);
        int a = fold_to_ascii_letter(sk, sn);
        int32_t up = utf8proc_toupper(c);
        if (!a && up != c) {
            int32_t su[64];
            int un = skeleton(sc, up, su);
            a = fold_to_ascii_letter(su, un);
        }
        if (!a)
            a = latin_base(c);
        if (!a && sn == 1 && sk[0] != c && utf8proc_category(sk[0]) != UTF8PROC_CATEGORY_LO)
            a = latin_base(sk[0]);
        if (a) {
            conf[c] = a;
            n++;
        }
    }
    uspoof_close(sc);
    if (n < 100)
        die("too few confusables from ICU", "");
}

/* Combining marks that only decorate a letter (accents, strokes, enclosing
 * keycaps): the blocks Combining Diacritical Marks (+ Extended, +
 * Supplement), Combining Diacritical Marks for Symbols, Combining Half
 * Marks. Script-specific marks (Devanagari vowel signs, Arabic harakat,
 * Hebrew points, Thai) are kept: they carry meaning. */
static int generic_diacritic(int32_t c)
{
    return (c >= 0x0300 && c <= 0x036F) || (c >= 0x1AB0 && c <= 0x1AFF) ||
           (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x20D0 && c <= 0x20FF) ||
           (c >= 0xFE20 && c <= 0xFE2F);
}

static int is_line_break(int32_t c)
{
    return (c >= 0x0A && c <= 0x0D) || c == 0x85 || c == 0x2028 || c == 0x2029;
}

/* Run utf8proc over a code point sequence (UTF-32 in and out). */
static void map32(image *m, utf8proc_option_t opt)
{
    utf8proc_uint8_t in[MAX_IMG_CPS * 4 + 1];
    utf8proc_ssize_t k = 0;
    for (int i = 0; i < m->n; i++)
        k += utf8proc_encode_char(m->cp[i], in + k);
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t r = utf8proc_map(in, k, &out, opt);
    if (r < 0)
        die("utf8proc_map: ", utf8proc_errmsg(r));
    m->n = 0;
    for (utf8proc_ssize_t i = 0; i < r;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate(out + i, r - i, &c);
        if (l <= 0)
            die("utf8proc_iterate failed", "");
        if (m->n == MAX_IMG_CPS)
            die("image too long", "");
        m->cp[m->n++] = c;
        i += l;
    }
    free(out);
}

/* One application of f (see the file comment). */
static void f_once(image *m)
{
    map32(m, UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD);
    int k = 0;
    for (int i = 0; i < m->n; i++)
        if (!generic_diacritic(m->cp[i]))
            m->cp[k++] = m->cp[i];
    m->n = k;
    map32(m, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    for (int i = 0; i < m->n; i++) {
        if (t2s[m->cp[i]] >= 0)
            m->cp[i] = t2s[m->cp[i]];
        else if (var[m->cp[i]] >= 0)
            m->cp[i] = var[m->cp[i]];
        else if (conf[m->cp[i]] >= 0)
            m->cp[i] = conf[m->cp[i]];
    }
}

static int fold_to_ascii_letter(const int32_t *s, int n)
{
    image m;
    if (n > MAX_IMG_CPS)
        return 0;
    m.n = n;
    memcpy(m.cp, s, sizeof(int32_t) * (size_t)n);
    map32(&m, UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD);
    int k = 0;
    for (int i = 0; i < m.n; i++)
        if (!generic_diacritic(m.cp[i]))
            m.cp[k++] = m.cp[i];
    return k == 1 && m.cp[0] >= 'a' && m.cp[0] <= 'z' ? m.cp[0] : 0;
}

static int same(const image *a, const image *b)
{
    return a->n == b->n && memcmp(a->cp, b->cp, sizeof(int32_t) * (size_t)a->n) == 0;
}

/* Iterate f to its fixpoint. kSimplifiedVariant has a few chains (A→B→C)
 * and in principle could have cycles; a cycle is broken deterministically
 * by stopping after a bounded number of rounds, and the idempotence check
 * in main() then rejects the result, so a cycle fails the build loudly. */
static void fixpoint(int32_t c, image *out)
{
    out->n = 1;
    out->cp[0] = c;
    for (int round = 0; round < 8; round++) {
        image next = *out;
        f_once(&next);
        if (same(&next, out))
            return;
        *out = next;
    }
    /* A cycle (A → B → A) would look stable after an even number of
     * rounds: refuse it loudly instead. */
    char cp[16];
    snprintf(cp, sizeof cp, "U+%04X", (unsigned)c);
    die("the folds do not reach a fixpoint (a cycle in the data) at ", cp);
}

/* Coarse class of a code point from its general category alone. */
enum { B_WORD, B_SEP, B_OTHER };
static int base_of(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
        return B_WORD;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
        return B_SEP;
    default:
        return B_OTHER; /* Z*, Cc, Cf, Cs */
    }
}

/* Decide class and image of code point C (see rules/README.md §5). */
static void classify(int32_t c)
{
    image *m = &img[c];
    m->n = 1;
    m->cp[0] = c;
    if (is_line_break(c)) {
        cls[c] = C_NL;
        return;
    }
    if (is_di[c]) {
        cls[c] = C_INVIS;
        m->n = 0;
        return;
    }
    if (is_ws[c]) {
        cls[c] = C_SPACE;
        return;
    }
    int base = base_of(c);
    if (base == B_OTHER) {
        cls[c] = C_INVIS;
        m->n = 0;
        return;
    }
    if (generic_diacritic(c)) {
        cls[c] = C_INVIS;
        m->n = 0;
        return;
    }

    image fx;
    fixpoint(c, &fx);
    image word = {.n = 0}, sep = {.n = 0};
    for (int i = 0; i < fx.n; i++) {
        int b = base_of(fx.cp[i]);
        if (b == B_WORD && !is_di[fx.cp[i]])
            word.cp[word.n++] = fx.cp[i];
        else if (b == B_SEP)
            sep.cp[sep.n++] = fx.cp[i];
    }
    if (word.n > 0) {
        cls[c] = C_WORD;
        *m = word;
        return;
    }
    if (sep.n > 0 || base == B_SEP) {
        *m = sep;
        if (!is_term[c])
            cls[c] = C_PUNCT;
        /* A terminator that is (or folds from) a wide character is CJK
         * punctuation: 。，、！？；： and the small/half-width forms. */
        else if (utf8proc_charwidth(c) == 2 ||
                 (fx.n == 1 && fx.cp[0] != c && utf8proc_charwidth(fx.cp[0]) == 2))
            cls[c] = C_BREAK;
        else
            cls[c] = C_TERM;
        /* ｡ and ､ fold to 。 and 、 but are half-width themselves. */
        if (c >= 0xFF61 && c <= 0xFF64 && is_term[c])
            cls[c] = C_BREAK;
        return;
    }
    cls[c] = C_INVIS; /* a letter-category code point whose image vanished */
    m->n = 0;
}

static int encode(const image *m, char *buf)
{
    int k = 0;
    for (int i = 0; i < m->n; i++)
        k += (int)utf8proc_encode_char(m->cp[i], (utf8proc_uint8_t *)buf + k);
    return k;
}

static int is_identity(int32_t c)
{
    return img[c].n == 1 && img[c].cp[0] == c;
}

/* Idempotence: every code point an image contains must map to itself, and
 * must have a class compatible with the one it came from (word images hold
 * word characters, separator images hold separators). */
static void check_idempotent(void)
{
    int bad = 0;
    for (int32_t c = 0; c < NCP; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        for (int i = 0; i < img[c].n; i++) {
            int32_t d = img[c].cp[i];
            int ok = is_identity(d);
            if (cls[c] == C_WORD)
                ok = ok && cls[d] == C_WORD;
            else if (cls[c] == C_PUNCT || cls[c] == C_TERM || cls[c] == C_BREAK)
                ok = ok && (cls[d] == C_PUNCT || cls[d] == C_TERM || cls[d] == C_BREAK);
            if (!ok) {
                if (bad++ < 20)
                    fprintf(stderr,
                            "gen_normtab: not idempotent: U+%04X -> U+%04X (class %d -> %d)\n",
                            (unsigned)c, (unsigned)d, cls[c], cls[d]);
            }
        }
    }
    if (bad)
        die("the tables would not be idempotent", "");
}

/* Split EIDX (one 16-bit entry index per code point) into blocks of
 * 2^SHIFT code points and share identical blocks. Returns the number of
 * distinct blocks; when STAGE1/STAGE2 are given, fills them. */
static size_t dedup_blocks(const uint16_t *eidx, int shift, uint16_t *stage1, uint16_t *stage2)
{
    size_t bs = (size_t)1 << shift, nb1 = NCP >> shift, nblocks = 0;
    size_t hcap = 1 << 18;
    int32_t *first = xcalloc(hcap, sizeof *first); /* hash → first block number with it */
    size_t *blockno = xcalloc(nb1, sizeof *blockno);
    for (size_t i = 0; i < hcap; i++)
        first[i] = -1;
    for (size_t b = 0; b < nb1; b++) {
        const uint16_t *blk = eidx + b * bs;
        uint64_t hv = 1469598103934665603ull;
        for (size_t j = 0; j < bs; j++)
            hv = (hv ^ blk[j]) * 1099511628211ull;
        size_t hpos = (size_t)(hv & (hcap - 1));
        size_t found = SIZE_MAX;
        while (first[hpos] >= 0) {
            size_t ob = (size_t)first[hpos];
            if (memcmp(eidx + ob * bs, blk, bs * 2) == 0) {
                found = blockno[ob];
                break;
            }
            hpos = (hpos + 1) & (hcap - 1);
        }
        if (found == SIZE_MAX) {
            first[hpos] = (int32_t)b;
            found = nblocks++;
            if (stage2)
                memcpy(stage2 + found * bs, blk, bs * 2);
        }
        blockno[b] = found;
        if (found > 0xFFFF)
            die("too many blocks", "");
        if (stage1)
            stage1[b] = (uint16_t)found;
    }
    free(first);
    free(blockno);
    return nblocks;
}

#define FD_ENTRY_LEN(e) ((int)(((e) >> 4) & 63u)) /* as FD_NT_LEN in normtab.h */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static void emit_array_u16(FILE *f, const char *name, const uint16_t *a, size_t n)
{
    fprintf(f, "const uint16_t %s[%zu] = {", name, n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%u,", i % 16 ? "" : "\n", a[i]);
    fprintf(f, "\n};\n\n");
}

int main(int argc, char **argv)
{
    if (argc != 5)
        die("usage: gen_normtab UNICODE_DIR DATA_DIR OUT.c OUT.h", "");
    char path[4096];
    is_di = xcalloc(NCP, 1);
    is_ws = xcalloc(NCP, 1);
    is_term = xcalloc(NCP, 1);
    t2s = xcalloc(NCP, sizeof *t2s);
    var = xcalloc(NCP, sizeof *var);
    conf = xcalloc(NCP, sizeof *conf);
    img = xcalloc(NCP, sizeof *img);
    for (int32_t c = 0; c < NCP; c++)
        t2s[c] = var[c] = conf[c] = -1;
    snprintf(path, sizeof path, "%s/DerivedCoreProperties.txt", argv[1]);
    load_prop(path, "Default_Ignorable_Code_Point", is_di);
    snprintf(path, sizeof path, "%s/PropList.txt", argv[1]);
    load_prop(path, "White_Space", is_ws);
    load_prop(path, "Terminal_Punctuation", is_term);
    load_t2s(argv[2], argv[2]);
    pick_variants(argv[2]);
    load_confusables();

    for (int32_t c = 0; c < NCP; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) {
            cls[c] = C_INVIS;
            img[c].n = 0;
            continue;
        }
        classify(c);
    }
    /* The STRIP_SEP break byte is '\n': nothing but a line break may map
     * to it, and no image may contain it. */
    for (int32_t c = 0; c < NCP; c++)
        for (int i = 0; i < img[c].n; i++)
            if (img[c].cp[i] == '\n' && c != '\n')
                die("an image contains the break byte", "");
    check_idempotent();

    /* Entries: class | mapped << 3 | len << 4 | pool offset << 10.
     * Unmapped (identity) entries copy the input bytes. */
    static char pool[1 << 20];
    size_t pool_len = 0;
    uint32_t *entry_of = xcalloc(NCP, sizeof *entry_of);
    int max_img = 4;
    for (int32_t c = 0; c < NCP; c++) {
        uint32_t e = cls[c];
        int mapped = !is_identity(c) && cls[c] != C_INVIS && cls[c] != C_SPACE && cls[c] != C_NL;
        if (mapped) {
            char buf[MAX_IMG_CPS * 4];
            int k = encode(&img[c], buf);
            if (k > MAX_IMG_BYTES)
                die("image too long for the entry format", "");
            if (k > max_img)
                max_img = k;
            /* Share identical images (many trad. characters map alike). */
            char *hit = NULL;
            if (k > 0) {
                for (char *p = pool; p + k <= pool + pool_len; p++) {
                    p = memchr(p, buf[0], (size_t)(pool + pool_len - p));
                    if (!p || p + k > pool + pool_len)
                        break;
                    if (memcmp(p, buf, (size_t)k) == 0) {
                        hit = p;
                        break;
                    }
                }
            }
            size_t off;
            if (hit)
                off = (size_t)(hit - pool);
            else {
                if (pool_len + (size_t)k > sizeof pool || pool_len >= (1u << 21))
                    die("pool full", "");
                off = pool_len;
                memcpy(pool + pool_len, buf, (size_t)k);
                pool_len += (size_t)k;
            }
            e |= 1u << 3 | (uint32_t)k << 4 | (uint32_t)off << 10;
        }
        /* Wide word characters (East Asian Width W/F of the image, as the
         * `word` view's boundary test sees them): bit 31. */
        if (cls[c] == C_WORD && img[c].n > 0 && utf8proc_charwidth(img[c].cp[0]) == 2)
            e |= 1u << 31;
        entry_of[c] = e;
    }

    /* For norm.c's fast paths (derived data: not part of the digest).
     *  - max_growth: the most output bytes one input byte can become,
     *    ceil(image length / character length) over all code points.
     *  - ident_bmp: one bit per 3-byte code point (U+0800..U+FFFF) that is
     *    a word character whose image is itself (entry 0): most CJK text,
     *    so a tight loop can copy such characters without the full lookup.
     *    No bit below U+0800 and none for surrogates, so an overlong or
     *    surrogate 3-byte sequence never passes the test.
     *  - punct_bmp: the same for punctuation/symbols (class PUNCT, not
     *    terminators) that are their own image: box drawing, quotes, 《》.
     *  - break_bmp: the same for strong terminators (class BREAK: 。，、！？
     *    ；：and their forms) with an image of 1 to 4 bytes, mapped (，→ ",")
     *    or not (。); the pool is followed by 3 more zero bytes, so 4 bytes
     *    can be read at any image offset.
     *  - The ASCII word loop folds 8 bytes at a time with arithmetic, so it
     *    relies on ASCII word characters being exactly [0-9A-Za-z] with
     *    images [0-9a-z]: checked here, the build fails otherwise. */
    int max_growth = 1;
    static uint8_t ident_bmp[0x10000 / 8], punct_bmp[0x10000 / 8], break_bmp[0x10000 / 8],
        wide_bmp[0x10000 / 8];
    for (int32_t c = 0; c < NCP; c++) {
        if (FD_ENTRY_LEN(entry_of[c]) > 0) {
            int clen = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
            int g = (FD_ENTRY_LEN(entry_of[c]) + clen - 1) / clen;
            if (g > max_growth)
                max_growth = g;
        }
        if (c >= 0x800 && c < 0x10000 && !(c >= 0xD800 && c <= 0xDFFF) &&
            (entry_of[c] & ~(1u << 31)) == C_WORD)
            ident_bmp[c >> 3] |= (uint8_t)(1u << (c & 7));
        if (c < 0x10000 && (entry_of[c] >> 31))
            wide_bmp[c >> 3] |= (uint8_t)(1u << (c & 7));
        if (c >= 0x800 && c < 0x10000 && !(c >= 0xD800 && c <= 0xDFFF) && entry_of[c] == C_PUNCT)
            punct_bmp[c >> 3] |= (uint8_t)(1u << (c & 7));
        if (c >= 0x800 && c < 0x10000 && !(c >= 0xD800 && c <= 0xDFFF) && cls[c] == C_BREAK &&
            (entry_of[c] == C_BREAK ||
             (FD_ENTRY_LEN(entry_of[c]) > 0 && FD_ENTRY_LEN(entry_of[c]) <= 4)))
            break_bmp[c >> 3] |= (uint8_t)(1u << (c & 7));
    }
    for (int c = 0; c < 128; c++) {
        int alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        int want = c >= 'A' && c <= 'Z' ? c + 32 : c;
        if ((cls[c] == C_WORD) != alnum || (alnum && (img[c].n != 1 || img[c].cp[0] != want)))
            die("ASCII word characters are not [0-9A-Za-z] folding to lower case: "
                "norm.c's ASCII fast path must change",
                "");
        /* norm.c's ASCII windows classify with SSE2 compares, assuming
         * this layout of the other ASCII classes and one-byte punctuation
         * images equal to the byte. */
        int assumed = alnum                    ? C_WORD
                      : c == ' ' || c == '\t'  ? C_SPACE
                      : c >= '\n' && c <= '\r' ? C_NL
                      : c < 0x20 || c == 0x7F  ? C_INVIS
                      : strchr("!,.:;?", c)    ? C_TERM
                                               : C_PUNCT;
        if (cls[c] != assumed ||
            ((assumed == C_PUNCT || assumed == C_TERM) && (img[c].n != 1 || img[c].cp[0] != c)))
            die("the ASCII classes are not the ones norm.c's ASCII windows assume: "
                "they must change",
                "");
    }

    /* Distinct entries → 16-bit indices. */
    uint32_t *entries = xcalloc(65536, sizeof *entries);
    size_t nentries = 0;
    uint16_t *eidx = xcalloc(NCP, sizeof *eidx);
    {
        /* open-addressing hash of entry value → index */
        size_t hcap = 1 << 17;
        uint32_t *hkey = xcalloc(hcap, sizeof *hkey);
        int32_t *hval = xcalloc(hcap, sizeof *hval);
        for (size_t i = 0; i < hcap; i++)
            hval[i] = -1;
        for (int32_t c = 0; c < NCP; c++) {
            uint32_t e = entry_of[c];
            size_t h = (e * 2654435761u) & (hcap - 1);
            while (hval[h] >= 0 && hkey[h] != e)
                h = (h + 1) & (hcap - 1);
            if (hval[h] < 0) {
                if (nentries == 65536)
                    die("too many distinct entries", "");
                hkey[h] = e;
                hval[h] = (int32_t)nentries;
                entries[nentries++] = e;
            }
            eidx[c] = (uint16_t)hval[h];
        }
        free(hkey);
        free(hval);
    }

    /* Two stages: choose the block size that minimises the total size. */
    int best_shift = 0;
    size_t best_size = SIZE_MAX;
    for (int shift = 4; shift <= 9; shift++) {
        size_t nblocks = dedup_blocks(eidx, shift, NULL, NULL);
        size_t size = (NCP >> shift) * 2 + (nblocks << shift) * 2;
        if (size < best_size) {
            best_size = size;
            best_shift = shift;
        }
    }
    size_t bs = (size_t)1 << best_shift, nb1 = NCP >> best_shift;
    uint16_t *stage1 = xcalloc(nb1, sizeof *stage1);
    uint16_t *stage2 = xcalloc(NCP, sizeof *stage2);
    size_t nblocks = dedup_blocks(eidx, best_shift, stage1, stage2);

    /* A digest of everything the normalizer's output depends on, so a
     * cache of compiled patterns can tell when the tables changed. */
    uint64_t digest = 1469598103934665603ull;
    digest = fnv(digest, cls, 128);
    digest = fnv(digest, stage1, nb1 * 2);
    digest = fnv(digest, stage2, nblocks * bs * 2);
    digest = fnv(digest, entries, nentries * 4);
    digest = fnv(digest, pool, pool_len);

    FILE *h = fopen(argv[4], "w");
    if (!h)
        die("cannot write ", argv[4]);
    fprintf(
        h,
        "/* normtab.h — generated by gen_normtab from Unicode %s data (libutf8proc %s,\n"
        " * PropList.txt, DerivedCoreProperties.txt, Unihan kSimplifiedVariant). Do not edit. */\n"
        "#ifndef FD_NORMTAB_H\n#define FD_NORMTAB_H\n\n#include <stdint.h>\n\n",
        utf8proc_unicode_version(), utf8proc_version());
    fprintf(h, "#define FD_NT_UNICODE_VERSION \"%s\"\n", utf8proc_unicode_version());
    fprintf(h, "#define FD_NT_DIGEST \"%016llx\"\n", (unsigned long long)digest);
    fprintf(h, "#define FD_NT_SHIFT %d\n", best_shift);
    fprintf(h, "#define FD_NT_MAX_IMAGE %d /* longest image in bytes (>= 4) */\n", max_img);
    fprintf(h, "#define FD_NT_MAX_GROWTH %d /* most output bytes per input byte */\n", max_growth);
    fprintf(h, "#define FD_NT_NENTRIES %zu\n\n", nentries);
    fprintf(h, "/* Character classes (rules/README.md §5). */\nenum {\n");
    for (int i = 0; i < C_NCLASS; i++)
        fprintf(h, "    %s = %d,\n", class_names[i], i);
    fprintf(h, "};\n\n");
    fprintf(h, "/* Entry: bits 0-2 class, bit 3 mapped (else the input bytes are copied),\n"
               " * bits 4-9 image length, bits 10-30 offset of the image in fd_nt_pool,\n"
               " * bit 31 a wide (East Asian W/F) word character. */\n"
               "#define FD_NT_CLASS(e) ((e) & 7u)\n#define FD_NT_MAPPED(e) (((e) >> 3) & 1u)\n"
               "#define FD_NT_LEN(e) (((e) >> 4) & 63u)\n#define FD_NT_OFF(e) (((e) >> 10) & "
               "0x1FFFFFu)\n#define FD_NT_WIDE(e) ((e) >> 31)\n\n");
    fprintf(h, "extern const uint8_t fd_nt_ascii_class[128];\n");
    fprintf(h, "extern const char fd_nt_ascii_image[128];\n");
    fprintf(h, "extern const uint16_t fd_nt_stage1[%zu];\n", nb1);
    fprintf(h, "extern const uint16_t fd_nt_stage2[%zu];\n", nblocks * bs);
    fprintf(h, "extern const uint32_t fd_nt_entries[%zu];\n", nentries);
    fprintf(h, "extern const char fd_nt_pool[%zu]; /* the images, then 4 zero bytes */\n",
            pool_len + 4);
    fprintf(h, "/* Bit cp set: cp is a 3-byte character (U+0800..U+FFFF, not a surrogate)\n"
               " * that is a word character whose image is itself (its entry is 0).\n"
               " * Derived from the entries, for fast paths. */\n"
               "extern const uint8_t fd_nt_ident_bmp[8192];\n"
               "/* The same for class FD_NC_PUNCT characters that are their own image. */\n"
               "extern const uint8_t fd_nt_punct_bmp[8192];\n"
               "/* The same for class FD_NC_BREAK characters, mapped or not, whose image\n"
               " * is 1 to 4 bytes long (4 bytes can be read at any fd_nt_pool offset). */\n"
               "extern const uint8_t fd_nt_break_bmp[8192];\n"
               "/* Bit cp set: cp (below U+10000) is a wide word character. */\n"
               "extern const uint8_t fd_nt_wide_bmp[8192];\n\n"
               "static inline int fd_nt_wide_bmp_has(uint32_t cp) {\n"
               "    return (fd_nt_wide_bmp[cp >> 3] >> (cp & 7)) & 1;\n}\n\n"
               "static inline int fd_nt_ident_bmp_has(uint32_t cp) {\n"
               "    return (fd_nt_ident_bmp[cp >> 3] >> (cp & 7)) & 1;\n}\n\n"
               "static inline int fd_nt_punct_bmp_has(uint32_t cp) {\n"
               "    return (fd_nt_punct_bmp[cp >> 3] >> (cp & 7)) & 1;\n}\n\n"
               "static inline int fd_nt_break_bmp_has(uint32_t cp) {\n"
               "    return (fd_nt_break_bmp[cp >> 3] >> (cp & 7)) & 1;\n}\n\n");
    fprintf(
        h,
        "static inline uint32_t fd_nt_lookup(uint32_t cp) {\n"
        "    return fd_nt_entries[fd_nt_stage2[((uint32_t)fd_nt_stage1[cp >> FD_NT_SHIFT] << "
        "FD_NT_SHIFT) |\n"
        "                                      (cp & ((1u << FD_NT_SHIFT) - 1))]];\n}\n\n#endif\n");
    if (fclose(h) != 0)
        die("cannot write ", argv[4]);

    FILE *o = fopen(argv[3], "w");
    if (!o)
        die("cannot write ", argv[3]);
    fprintf(o,
            "/* normtab.c — generated by gen_normtab. Do not edit. */\n#include \"normtab.h\"\n\n");
    fprintf(o, "const uint8_t fd_nt_ascii_class[128] = {");
    for (int c = 0; c < 128; c++)
        fprintf(o, "%s%d,", c % 16 ? "" : "\n", cls[c]);
    fprintf(o, "\n};\n\n/* ASCII image: one byte (letters folded to lower case). */\n");
    fprintf(o, "const char fd_nt_ascii_image[128] = {");
    for (int c = 0; c < 128; c++) {
        int b = img[c].n == 1 ? img[c].cp[0] : c;
        if (b >= 128)
            die("an ASCII image is not ASCII", "");
        fprintf(o, "%s%d,", c % 16 ? "" : "\n", b);
    }
    fprintf(o, "\n};\n\n");
    emit_array_u16(o, "fd_nt_stage1", stage1, nb1);
    emit_array_u16(o, "fd_nt_stage2", stage2, nblocks * bs);
    fprintf(o, "const uint32_t fd_nt_entries[%zu] = {", nentries);
    for (size_t i = 0; i < nentries; i++)
        fprintf(o, "%s%uu,", i % 8 ? "" : "\n", entries[i]);
    fprintf(o, "\n};\n\nconst char fd_nt_pool[%zu] = {", pool_len + 4);
    for (size_t i = 0; i < pool_len; i++)
        fprintf(o, "%s%d,", i % 16 ? "" : "\n", (signed char)pool[i]);
    fprintf(o, "0,0,0,0\n};\n\nconst uint8_t fd_nt_ident_bmp[8192] = {");
    for (size_t i = 0; i < sizeof ident_bmp; i++)
        fprintf(o, "%s%u,", i % 16 ? "" : "\n", ident_bmp[i]);
    fprintf(o, "\n};\n\nconst uint8_t fd_nt_punct_bmp[8192] = {");
    for (size_t i = 0; i < sizeof punct_bmp; i++)
        fprintf(o, "%s%u,", i % 16 ? "" : "\n", punct_bmp[i]);
    fprintf(o, "\n};\n\nconst uint8_t fd_nt_break_bmp[8192] = {");
    for (size_t i = 0; i < sizeof break_bmp; i++)
        fprintf(o, "%s%u,", i % 16 ? "" : "\n", break_bmp[i]);
    fprintf(o, "\n};\n\nconst uint8_t fd_nt_wide_bmp[8192] = {");
    for (size_t i = 0; i < sizeof wide_bmp; i++)
        fprintf(o, "%s%u,", i % 16 ? "" : "\n", wide_bmp[i]);
    fprintf(o, "\n};\n");
    if (fclose(o) != 0)
        die("cannot write ", argv[3]);

    fprintf(stderr,
            "gen_normtab: Unicode %s, %zu entries, shift %d, %zu blocks, pool %zu bytes, "
            "tables %zu bytes\n",
            utf8proc_unicode_version(), nentries, best_shift, nblocks, pool_len,
            best_size + nentries * 4 + pool_len);
    return 0;
}
