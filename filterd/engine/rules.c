/*
 * rules.c — the rule-file parser (SPEC §3.1–3.2).
 *
 * Reads categories.tsv and every *.rules file below a directory into an
 * fd_rulelist. The parser never stops at the first error: moderators fix a
 * whole file at once, so every bad line is reported as FILE:LINE: message,
 * and only a list without errors is handed back (all or nothing).
 */
#include "rules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "utf8.h"
#include "validate.h"

#define CATEGORIES_FILE "categories.tsv"
#define MAX_RULE_FILE   (64u << 20) /* a rule file larger than this is surely a mistake */

static const char *const action_names[] = {"allow", "flag", "block"};
static const char *const view_names[] = {"normalized", "word", "raw"};

const char *fd_action_name(fd_action a)
{
    return (unsigned)a < 3 ? action_names[a] : "?";
}

const char *fd_view_name(fd_view v)
{
    return (unsigned)v < FD_VIEW_MAX ? view_names[v] : "?";
}

void fd_rulelist_init(fd_rulelist *rl)
{
    memset(rl, 0, sizeof *rl);
}

void fd_rulelist_free(fd_rulelist *rl)
{
    for (size_t i = 0; i < rl->ncats; i++) {
        free(rl->cats[i].id);
        free(rl->cats[i].zh);
        free(rl->cats[i].en);
        free(rl->cats[i].clause);
    }
    for (size_t i = 0; i < rl->nrules; i++) {
        free(rl->rules[i].id);
        free(rl->rules[i].pattern);
    }
    for (size_t i = 0; i < rl->nfiles; i++)
        free(rl->files[i]);
    free(rl->cats);
    free(rl->rules);
    free(rl->files);
    fd_rulelist_init(rl);
}

int fd_rules_find_category(const fd_rulelist *rl, const char *id)
{
    for (size_t i = 0; i < rl->ncats; i++)
        if (strcmp(rl->cats[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* Grow *arr (of elements of size SZ) so that it holds at least N+1. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, c * sz);
    if (!p)
        return FD_ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

/* Iterate over the lines of BUF: returns the next line (without its "\n"
 * or "\r\n") in *line and *llen, advances *pos; 0 at the end. */
static int next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *llen)
{
    if (*pos >= len)
        return 0;
    const char *s = buf + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    size_t l = nl ? (size_t)(nl - s) : len - *pos;
    *pos += l + (nl ? 1 : 0);
    if (l && s[l - 1] == '\r')
        l--;
    *line = s;
    *llen = l;
    return 1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* Trim ASCII white space on both sides. */
static void trim(const char **s, size_t *l)
{
    while (*l && is_blank(**s)) {
        (*s)++;
        (*l)--;
    }
    while (*l && is_blank((*s)[*l - 1]))
        (*l)--;
}

static char *dupn(const char *s, size_t l)
{
    char *p = malloc(l + 1);
    if (p) {
        memcpy(p, s, l);
        p[l] = '\0';
    }
    return p;
}

/*
 * Parse categories.tsv: "ID<TAB>中文<TAB>English<TAB>clause" per line,
 * '#' comments and blank lines ignored. Every field must be non-empty and
 * IDs unique, since rules and reports name categories by ID.
 */
int fd_rules_parse_categories(fd_rulelist *rl, const char *fname, const char *buf, size_t len,
                              fd_diag *diag)
{
    size_t pos = 0, cap = rl->ncats, llen;
    const char *line;
    unsigned lineno = 0;
    int err = 0;

    while (next_line(buf, len, &pos, &line, &llen)) {
        lineno++;
        const char *t = line;
        size_t tl = llen;
        trim(&t, &tl);
        if (!tl || *t == '#')
            continue;
        if (!fd_utf8_valid(line, llen)) {
            fd_diag_add(diag, fname, lineno, "invalid UTF-8");
            err = FD_ERULES;
            continue;
        }
        const char *f[4];
        size_t fl[4];
        int nf = 0;
        const char *p = line, *end = line + llen;
        while (nf < 4) {
            const char *tab = memchr(p, '\t', (size_t)(end - p));
            f[nf] = p;
            fl[nf] = tab ? (size_t)(tab - p) : (size_t)(end - p);
            trim(&f[nf], &fl[nf]);
            nf++;
            if (!tab)
                break;
            p = tab + 1;
        }
        if (nf != 4 || memchr(p, '\t', (size_t)(end - p)) != NULL || !fl[0] || !fl[1] || !fl[2] ||
            !fl[3]) {
            fd_diag_add(diag, fname, lineno,
                        "expected 4 tab-separated fields: ID, Chinese name, English name, "
                        "Article 4 clause");
            err = FD_ERULES;
            continue;
        }
        char *id = dupn(f[0], fl[0]);
        if (!id)
            return FD_ENOMEM;
        if (fd_rules_find_category(rl, id) >= 0) {
            fd_diag_add(diag, fname, lineno, "duplicate category '%s'", id);
            free(id);
            err = FD_ERULES;
            continue;
        }
        if (grow((void **)&rl->cats, &cap, rl->ncats, sizeof *rl->cats)) {
            free(id);
            return FD_ENOMEM;
        }
        fd_category *c = &rl->cats[rl->ncats];
        c->id = id;
        c->zh = dupn(f[1], fl[1]);
        c->en = dupn(f[2], fl[2]);
        c->clause = dupn(f[3], fl[3]);
        rl->ncats++;
        if (!c->zh || !c->en || !c->clause)
            return FD_ENOMEM;
    }
    if (!rl->ncats && !err) {
        fd_diag_add(diag, fname, 0, "no categories defined");
        err = FD_ERULES;
    }
    return err;
}

/* The per-file parser state: directives in force. */
typedef struct parse_state {
    int category; /* -1 until @category */
    fd_action action;
    fd_view view;
    uint8_t validator;
    uint32_t within; /* @within N for @all rules */
    char *next_id;   /* @id waiting for its pattern */
    unsigned next_id_line;
} parse_state;

static int valid_id(const char *s, size_t l)
{
    if (!l || l > 128)
        return 0;
    for (size_t i = 0; i < l; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':'))
            return 0;
    }
    return 1;
}

/* Handle one "@name value" line. Returns 0, FD_ERULES (reported) or FD_ENOMEM. */
static int parse_all(fd_rulelist *rl, size_t *rcap, parse_state *st, uint32_t file,
                     const char *fname, unsigned lineno, const char *s, size_t l, fd_diag *diag);

static int parse_directive(fd_rulelist *rl, size_t *rcap, parse_state *st, uint32_t file,
                           const char *fname, unsigned lineno, const char *s, size_t l,
                           fd_diag *diag)
{
    const char *name = s + 1;
    size_t nl = 0;
    while (nl < l - 1 && !is_blank(name[nl]))
        nl++;
    const char *val = name + nl;
    size_t vl = l - 1 - nl;
    trim(&val, &vl);

#define IS(lit)  (nl == sizeof(lit) - 1 && memcmp(name, lit, nl) == 0)
#define VAL(lit) (vl == sizeof(lit) - 1 && memcmp(val, lit, vl) == 0)
    if (!IS("category") && !IS("action") && !IS("match") && !IS("id") && !IS("validate") &&
        !IS("within") && !IS("all")) {
        fd_diag_add(diag, fname, lineno, "unknown directive '@%.*s'", (int)nl, name);
        return FD_ERULES;
    }
    if (!vl) {
        fd_diag_add(diag, fname, lineno, "directive '@%.*s' needs a value", (int)nl, name);
        return FD_ERULES;
    }
    if (IS("category")) {
        char id[64];
        if (vl >= sizeof id) {
            fd_diag_add(diag, fname, lineno, "unknown category '%.*s'", (int)vl, val);
            return FD_ERULES;
        }
        memcpy(id, val, vl);
        id[vl] = '\0';
        int c = fd_rules_find_category(rl, id);
        if (c < 0) {
            fd_diag_add(diag, fname, lineno, "unknown category '%s' (not in %s)", id,
                        CATEGORIES_FILE);
            return FD_ERULES;
        }
        st->category = c;
    } else if (IS("action")) {
        if (VAL("block"))
            st->action = FD_BLOCK;
        else if (VAL("flag"))
            st->action = FD_FLAG;
        else if (VAL("allow"))
            st->action = FD_ALLOW;
        else {
            fd_diag_add(diag, fname, lineno, "unknown action '%.*s' (block, flag or allow)",
                        (int)vl, val);
            return FD_ERULES;
        }
    } else if (IS("match")) {
        if (VAL("normalized"))
            st->view = FD_VIEW_NORMALIZED;
        else if (VAL("word"))
            st->view = FD_VIEW_WORD;
        else if (VAL("raw"))
            st->view = FD_VIEW_RAW;
        else {
            fd_diag_add(diag, fname, lineno, "unknown match view '%.*s' (normalized, word or raw)",
                        (int)vl, val);
            return FD_ERULES;
        }
    } else if (IS("all")) {
        return parse_all(rl, rcap, st, file, fname, lineno, val, vl, diag);
    } else if (IS("within")) {
        char num[16];
        char *e;
        snprintf(num, sizeof num, "%.*s", (int)(vl < 15 ? vl : 15), val);
        unsigned long w = strtoul(num, &e, 10);
        if (vl > 9 || *e || num[0] == '-' || num[0] == '+') {
            fd_diag_add(diag, fname, lineno,
                        "@within takes a number of characters (0: anywhere), not '%.*s'", (int)vl,
                        val);
            return FD_ERULES;
        }
        st->within = (uint32_t)w;
    } else if (IS("validate")) {
        int v = fd_validator_find(val, vl);
        if (v < 0) {
            fd_diag_add(diag, fname, lineno,
                        "unknown validator '%.*s' (cn-id, luhn, cn-uscc or none)", (int)vl, val);
            return FD_ERULES;
        }
        st->validator = (uint8_t)v;
    } else { /* @id */
        if (!valid_id(val, vl)) {
            fd_diag_add(diag, fname, lineno,
                        "invalid rule id '%.*s' (1-128 of A-Z a-z 0-9 . _ - :)", (int)vl, val);
            return FD_ERULES;
        }
        if (st->next_id) {
            fd_diag_add(diag, fname, st->next_id_line, "@id '%s' is not followed by a pattern",
                        st->next_id);
            free(st->next_id);
            st->next_id = NULL;
        }
        st->next_id = dupn(val, vl);
        st->next_id_line = lineno;
        if (!st->next_id)
            return FD_ENOMEM;
    }
#undef IS
#undef VAL
    return 0;
}

/*
 * The stable id of a rule without @id: its category and the pattern line as
 * written, hashed. Editing other lines, moving the rule or changing its
 * action keeps the id; editing the pattern itself gives a new rule.
 */
static char *derive_id(const char *cat, const char *s, size_t l)
{
    fd_sha256_ctx c;
    char hex[65];
    if (fd_sha256_init(&c))
        return NULL;
    fd_sha256_update(&c, cat, strlen(cat) + 1);
    fd_sha256_update(&c, s, l);
    if (fd_sha256_final(&c, hex))
        return NULL;
    char *id = NULL;
    if (asprintf(&id, "%s-%.12s", cat, hex) < 0)
        return NULL;
    return id;
}

/* The syntax of one pattern (a pattern line, or one part of an @all line):
 * "/REGEX/FLAGS" or a literal with its leading-backslash escape resolved.
 * Sets *regex, *rxf and the pattern's bytes (pointing into S). */
static int parse_pattern_text(const char *s, size_t l, bool *regex, unsigned *rxf, const char **pat,
                              size_t *pl, const char *fname, unsigned lineno, fd_diag *diag)
{
    *regex = false;
    *rxf = 0;
    *pat = s;
    *pl = l;
    if (s[0] == '/') {
        /* "/REGEX/FLAGS": the last '/' ends the regex; what follows is flags. */
        const char *close = NULL;
        for (size_t i = l; i > 1; i--)
            if (s[i - 1] == '/') {
                close = s + i - 1;
                break;
            }
        if (!close) {
            fd_diag_add(diag, fname, lineno,
                        "regex must be written /REGEX/FLAGS (a literal starting with '/' is "
                        "written \\/...)");
            return FD_ERULES;
        }
        for (const char *f = close + 1; f < s + l; f++) {
            switch (*f) {
            case 'i':
                *rxf |= FD_RX_CASELESS;
                break;
            case 's':
                *rxf |= FD_RX_DOTALL;
                break;
            case 'm':
                *rxf |= FD_RX_MULTILINE;
                break;
            default:
                fd_diag_add(diag, fname, lineno, "unknown regex flag '%c' (i, s or m)", *f);
                return FD_ERULES;
            }
        }
        *regex = true;
        *pat = s + 1;
        *pl = (size_t)(close - *pat);
        if (!*pl) {
            fd_diag_add(diag, fname, lineno, "empty regex");
            return FD_ERULES;
        }
    } else if (s[0] == '\\') {
        if (l < 2 || !strchr("#@/\\!", s[1])) {
            fd_diag_add(diag, fname, lineno,
                        "a leading '\\' escapes only '#', '@', '/' or '\\' at the start of a "
                        "literal");
            return FD_ERULES;
        }
        *pat = s + 1;
        *pl = l - 1;
    }
    return 0;
}

/* Append a rule with the directives in force. ID is taken (NULL: derive
 * one from the category and SRC, the text as written). */
static int add_rule(fd_rulelist *rl, size_t *rcap, const parse_state *st, uint32_t file,
                    unsigned lineno, const char *pat, size_t pl, bool regex, unsigned rxf, char *id,
                    const char *src, size_t srclen, fd_rule **out)
{
    if (grow((void **)&rl->rules, rcap, rl->nrules, sizeof *rl->rules)) {
        free(id);
        return FD_ENOMEM;
    }
    fd_rule *r = &rl->rules[rl->nrules];
    memset(r, 0, sizeof *r);
    r->pattern = dupn(pat, pl);
    if (!r->pattern) {
        free(id);
        return FD_ENOMEM;
    }
    r->pattern_len = pl;
    r->category = (uint32_t)st->category;
    r->action = st->action;
    r->view = st->view;
    r->regex = regex;
    r->rx_flags = rxf;
    r->validator = st->validator;
    r->file = file;
    r->line = lineno;
    r->named = id != NULL;
    r->id = id ? id : derive_id(rl->cats[st->category].id, src, srclen);
    if (!r->id) {
        free(r->pattern);
        return FD_ENOMEM;
    }
    rl->nrules++;
    if (out)
        *out = r;
    return 0;
}

/* Parse one pattern line (trimmed, non-empty) into a new rule. */
static int parse_pattern(fd_rulelist *rl, size_t *rcap, parse_state *st, uint32_t file,
                         const char *fname, unsigned lineno, const char *s, size_t l, fd_diag *diag)
{
    bool regex;
    unsigned rxf;
    const char *pat;
    size_t pl;
    if (st->category < 0) {
        fd_diag_add(diag, fname, lineno, "pattern before any @category");
        return FD_ERULES;
    }
    int r = parse_pattern_text(s, l, &regex, &rxf, &pat, &pl, fname, lineno, diag);
    if (r)
        return r;
    char *id = st->next_id;
    st->next_id = NULL;
    return add_rule(rl, rcap, st, file, lineno, pat, pl, regex, rxf, id, s, l, NULL);
}

/*
 * "@all PART && PART && !PART": a co-occurrence rule. It becomes one rule of
 * kind FD_RULE_COMBO (no pattern of its own) followed by one hidden rule of
 * kind FD_RULE_PART per part, named "<id>#<n>". Every part uses the view in
 * force; a part written "!PART" must not occur. At least one part must be
 * positive and there must be two parts at least.
 */
static int parse_all(fd_rulelist *rl, size_t *rcap, parse_state *st, uint32_t file,
                     const char *fname, unsigned lineno, const char *s, size_t l, fd_diag *diag)
{
    if (st->category < 0) {
        fd_diag_add(diag, fname, lineno, "@all before any @category");
        return FD_ERULES;
    }
    if (st->action == FD_ALLOW) {
        /* What span an allow-combination would excuse is ill-defined. */
        fd_diag_add(diag, fname, lineno, "@all rules can block or flag, not allow");
        return FD_ERULES;
    }
    const char *part[FD_MAX_PARTS + 1];
    size_t plen[FD_MAX_PARTS + 1];
    size_t n = 0, npos = 0;
    const char *p = s, *end = s + l;
    for (;;) {
        const char *sep = p;
        while (sep + 1 < end && !(sep[0] == '&' && sep[1] == '&'))
            sep++;
        if (sep + 1 >= end)
            sep = end;
        const char *a = p;
        size_t al = (size_t)(sep - p);
        trim(&a, &al);
        if (!al) {
            fd_diag_add(diag, fname, lineno, "@all: empty part (write PART && PART ...)");
            return FD_ERULES;
        }
        if (n == FD_MAX_PARTS) {
            fd_diag_add(diag, fname, lineno, "@all: more than %d parts", FD_MAX_PARTS);
            return FD_ERULES;
        }
        part[n] = a;
        plen[n] = al;
        npos += a[0] != '!';
        n++;
        if (sep == end)
            break;
        p = sep + 2;
    }
    if (n < 2 || npos == 0) {
        fd_diag_add(diag, fname, lineno,
                    "@all needs two parts or more, at least one of them without '!'");
        return FD_ERULES;
    }
    /* Check every part before adding anything. */
    bool regex[FD_MAX_PARTS];
    unsigned rxf[FD_MAX_PARTS];
    const char *pat[FD_MAX_PARTS];
    size_t pl[FD_MAX_PARTS];
    for (size_t k = 0; k < n; k++) {
        const char *a = part[k];
        size_t al = plen[k];
        if (a[0] == '!') {
            a++;
            al--;
            trim(&a, &al);
            if (!al) {
                fd_diag_add(diag, fname, lineno, "@all: empty part after '!'");
                return FD_ERULES;
            }
        }
        if (parse_pattern_text(a, al, &regex[k], &rxf[k], &pat[k], &pl[k], fname, lineno, diag))
            return FD_ERULES;
    }
    char *id = st->next_id;
    st->next_id = NULL;
    fd_rule *combo;
    /* The derived id hashes "@all " too, so it never equals a pattern's. */
    char *src = NULL;
    if (asprintf(&src, "@all %.*s", (int)l, s) < 0) {
        free(id);
        return FD_ENOMEM;
    }
    int r = add_rule(rl, rcap, st, file, lineno, s, l, false, 0, id, src, strlen(src), &combo);
    free(src);
    if (r)
        return r;
    combo->kind = FD_RULE_COMBO;
    combo->within = st->within;
    uint32_t ci = (uint32_t)(rl->nrules - 1);
    for (size_t k = 0; k < n; k++) {
        char *pid = NULL;
        if (asprintf(&pid, "%s#%zu", rl->rules[ci].id, k + 1) < 0)
            return FD_ENOMEM;
        fd_rule *pr;
        r = add_rule(rl, rcap, st, file, lineno, pat[k], pl[k], regex[k], rxf[k], pid, NULL, 0,
                     &pr);
        if (r)
            return r;
        pr->kind = FD_RULE_PART;
        pr->named = false;
        pr->combo = ci;
        pr->negated = part[k][0] == '!';
        pr->validator = 0;
    }
    return 0;
}

/*
 * Parse one rule file's text. Directives start afresh in each file (SPEC
 * §3.2), so moving a file never changes what its rules mean.
 */
int fd_rules_parse_file(fd_rulelist *rl, const char *fname, const char *buf, size_t len,
                        fd_diag *diag)
{
    size_t fcap = rl->nfiles, rcap = rl->nrules;
    if (grow((void **)&rl->files, &fcap, rl->nfiles, sizeof *rl->files))
        return FD_ENOMEM;
    rl->files[rl->nfiles] = strdup(fname);
    if (!rl->files[rl->nfiles])
        return FD_ENOMEM;
    uint32_t file = (uint32_t)rl->nfiles++;

    parse_state st = {.category = -1, .action = FD_BLOCK, .view = FD_VIEW_NORMALIZED};
    size_t pos = 0, llen;
    const char *line;
    unsigned lineno = 0;
    int err = 0;

    while (next_line(buf, len, &pos, &line, &llen)) {
        lineno++;
        const char *s = line;
        size_t l = llen;
        trim(&s, &l);
        if (!l || *s == '#')
            continue;
        if (!fd_utf8_valid(line, llen)) {
            fd_diag_add(diag, fname, lineno, "invalid UTF-8");
            err = FD_ERULES;
            continue;
        }
        if (memchr(s, '\0', l)) {
            fd_diag_add(diag, fname, lineno, "NUL byte in line");
            err = FD_ERULES;
            continue;
        }
        int r = *s == '@' ? parse_directive(rl, &rcap, &st, file, fname, lineno, s, l, diag)
                          : parse_pattern(rl, &rcap, &st, file, fname, lineno, s, l, diag);
        if (r == FD_ENOMEM) {
            free(st.next_id);
            return r;
        }
        if (r)
            err = r;
    }
    if (st.next_id) {
        fd_diag_add(diag, fname, st.next_id_line, "@id '%s' is not followed by a pattern",
                    st.next_id);
        free(st.next_id);
        err = FD_ERULES;
    }
    return err;
}

/* ---- reading a directory ---- */

typedef struct pathlist {
    char **v;
    size_t n, cap;
} pathlist;

static void pathlist_free(pathlist *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Collect the paths of files named "*SUFFIX" below ROOT/REL (relative to
 * ROOT). Hidden entries (editor swap files, .git) are skipped. */
static int collect(const char *root, const char *rel, const char *suffix, pathlist *out,
                   fd_diag *diag, int depth)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel) >= (int)sizeof path) {
        fd_diag_add(diag, rel, 0, "path too long");
        return FD_ERULES;
    }
    DIR *d = opendir(path);
    if (!d) {
        fd_diag_add(diag, *rel ? rel : root, 0, "cannot read directory: %s", strerror(errno));
        return FD_EIO;
    }
    if (depth > 32) {
        closedir(d);
        fd_diag_add(diag, rel, 0, "directories nested too deeply");
        return FD_ERULES;
    }
    int err = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096], full[8192];
        if (snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
                (int)sizeof sub ||
            snprintf(full, sizeof full, "%s/%s", root, sub) >= (int)sizeof full) {
            fd_diag_add(diag, rel, 0, "path too long: %s", e->d_name);
            err = FD_ERULES;
            continue;
        }
        struct stat sb;
        if (stat(full, &sb) != 0)
            continue; /* dangling link: nothing to load */
        if (S_ISDIR(sb.st_mode)) {
            int r = collect(root, sub, suffix, out, diag, depth + 1);
            if (r == FD_ENOMEM) {
                closedir(d);
                return r;
            }
            if (r)
                err = r;
        } else if (S_ISREG(sb.st_mode) && ends_with(e->d_name, suffix)) {
            if (grow((void **)&out->v, &out->cap, out->n, sizeof *out->v) ||
                !(out->v[out->n] = strdup(sub))) {
                closedir(d);
                return FD_ENOMEM;
            }
            out->n++;
        }
    }
    closedir(d);
    return err;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fd_rules_find_files(const char *dir, const char *suffix, char ***paths, size_t *n,
                        fd_diag *diag)
{
    pathlist pl = {0};
    int r = collect(dir, "", suffix, &pl, diag, 0);
    if (r == FD_ENOMEM) {
        pathlist_free(&pl);
        return r;
    }
    if (pl.n > 1)
        qsort(pl.v, pl.n, sizeof *pl.v, cmp_str);
    *paths = pl.v;
    *n = pl.n;
    return r;
}

void fd_rules_free_paths(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/*
 * Read ROOT/REL whole into a malloc'd buffer (caller frees). Refuses
 * world-writable files: anyone could then change what is blocked.
 */
int fd_rules_read_file(const char *root, const char *rel, char **buf, size_t *len, fd_diag *diag)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fd_diag_add(diag, rel, 0, "cannot open: %s", strerror(errno));
        return FD_EIO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fd_diag_add(diag, rel, 0, "not a regular file");
        close(fd);
        return FD_EIO;
    }
    if (sb.st_mode & S_IWOTH) {
        fd_diag_add(diag, rel, 0, "refusing a world-writable file (chmod o-w)");
        close(fd);
        return FD_ERULES;
    }
    if ((size_t)sb.st_size > MAX_RULE_FILE) {
        fd_diag_add(diag, rel, 0, "file larger than %u MiB", MAX_RULE_FILE >> 20);
        close(fd);
        return FD_ERULES;
    }
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    char *b = malloc(cap);
    if (!b) {
        close(fd);
        return FD_ENOMEM;
    }
    for (;;) {
        if (n == cap - 1) { /* the file grew while we read it */
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                close(fd);
                return FD_ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fd_diag_add(diag, rel, 0, "read error: %s", strerror(errno));
            free(b);
            close(fd);
            return FD_EIO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* The version covers each file's name and content, length-prefixed so that
 * moving bytes between files or names always changes it. */
static void version_add(fd_sha256_ctx *c, const char *name, const char *buf, size_t len)
{
    unsigned char n[8];
    uint64_t v = strlen(name);
    for (int i = 0; i < 8; i++)
        n[i] = (unsigned char)(v >> (8 * i));
    fd_sha256_update(c, n, 8);
    fd_sha256_update(c, name, strlen(name));
    v = len;
    for (int i = 0; i < 8; i++)
        n[i] = (unsigned char)(v >> (8 * i));
    fd_sha256_update(c, n, 8);
    fd_sha256_update(c, buf, len);
}

static int cmp_rule_id(const void *a, const void *b, void *arg)
{
    const fd_rulelist *rl = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = strcmp(rl->rules[x].id, rl->rules[y].id);
    return c ? c : (x > y) - (x < y);
}

/*
 * Rule ids name rules in responses and audit records, so two rules must
 * never answer to one. An explicit @id used twice is an error. A derived id
 * repeats only when the same pattern line appears twice in one category;
 * the later copies get "~2", "~3"… in load order (lint reports them).
 */
static int check_unique_ids(fd_rulelist *rl, fd_diag *diag)
{
    size_t n = rl->nrules;
    if (n < 2)
        return 0;
    uint32_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return FD_ENOMEM;
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    qsort_r(idx, n, sizeof *idx, cmp_rule_id, rl);
    int err = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(rl->rules[idx[i]].id, rl->rules[idx[j]].id) == 0)
            j++;
        const fd_rule *first = &rl->rules[idx[i]];
        for (size_t k = i + 1; k < j; k++) {
            fd_rule *r = &rl->rules[idx[k]];
            if (r->named || first->named) {
                fd_diag_add(diag, rl->files[r->file], r->line,
                            "duplicate rule id '%s' (also at %s:%u)", r->id, rl->files[first->file],
                            first->line);
                err = FD_ERULES;
                continue;
            }
            char *nid = NULL;
            if (asprintf(&nid, "%s~%zu", r->id, k - i + 1) < 0) {
                free(idx);
                return FD_ENOMEM;
            }
            free(r->id);
            r->id = nid;
        }
        i = j;
    }
    free(idx);
    return err;
}

/*
 * Load a rule directory: categories.tsv first (rules refer to it), then
 * every *.rules file in lexical order of its relative path. The version is
 * the SHA-256 over the same files in the same order.
 */
int fd_rules_load_dir(const char *dir, fd_rulelist *rl, fd_diag *diag)
{
    fd_rulelist_init(rl);
    struct stat sb;
    errno = 0;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fd_diag_add(diag, dir, 0, "not a readable rule directory: %s",
                    errno ? strerror(errno) : "not a directory");
        return FD_EIO;
    }

    fd_sha256_ctx hc;
    if (fd_sha256_init(&hc))
        return FD_ENOMEM;
    int err = 0;
    char *buf = NULL;
    size_t len = 0;
    int r = fd_rules_read_file(dir, CATEGORIES_FILE, &buf, &len, diag);
    if (r == 0) {
        version_add(&hc, CATEGORIES_FILE, buf, len);
        r = fd_rules_parse_categories(rl, CATEGORIES_FILE, buf, len, diag);
        free(buf);
    }
    if (r) {
        /* Without categories every rule line would report an unknown
         * category: one clear error is better than thousands. */
        char hex[65];
        fd_sha256_final(&hc, hex);
        fd_rulelist_free(rl);
        return r == FD_ENOMEM ? r : FD_ERULES;
    }

    pathlist files = {0};
    r = collect(dir, "", ".rules", &files, diag, 0);
    if (r == FD_ENOMEM)
        goto out;
    if (r)
        err = FD_ERULES;
    if (files.n > 1)
        qsort(files.v, files.n, sizeof *files.v, cmp_str);
    for (size_t i = 0; i < files.n; i++) {
        r = fd_rules_read_file(dir, files.v[i], &buf, &len, diag);
        if (r == FD_ENOMEM)
            goto out;
        if (r) {
            err = FD_ERULES;
            continue;
        }
        version_add(&hc, files.v[i], buf, len);
        r = fd_rules_parse_file(rl, files.v[i], buf, len, diag);
        free(buf);
        if (r == FD_ENOMEM)
            goto out;
        if (r)
            err = FD_ERULES;
    }
    r = check_unique_ids(rl, diag);
    if (r == FD_ENOMEM)
        goto out;
    if (r)
        err = r;
    r = 0;
out:
    pathlist_free(&files);
    {
        char hex[65];
        if (fd_sha256_final(&hc, hex) == 0)
            memcpy(rl->version, hex, sizeof hex);
        else if (!r)
            r = FD_ENOMEM;
    }
    if (r || err) {
        fd_rulelist_free(rl);
        return r ? r : err;
    }
    return 0;
}
