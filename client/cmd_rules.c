/*
 * cmd_rules.c — `filterctl rules check DIR` and `filterctl rules test DIR`
 * (SPEC §1, §3.4). No daemon involved: the rules are loaded, compiled and,
 * for `test`, exercised in-process by the same engine the daemon links, so
 * what passes here is what the daemon will do.
 *
 *   check  load + compile; print a summary (rules per category, per view,
 *          per action; compile time) and exit 0, or print every
 *          "FILE:LINE: message" to stderr and exit 1.
 *   test   check, then run every "*.tests" below DIR; print each failure
 *          (and each malformed test line) as "FILE:LINE: ..." and a final
 *          line "N passed, M failed"; exit 0 when every case passed and
 *          every line parsed, else 1.
 *   lint [--strict] [--holdback] [--benign PATH]...
 *          check, then print a summary per kind of warning (lint.h), the
 *          warnings as "FILE:LINE: warning: ..."; then a "FILE:LINE: note:
 *          streams hold back up to N bytes …" line for every rule whose
 *          worst-case hold-back exceeds 48 bytes (with --holdback, for every
 *          rule); and a final "N warnings, M hold-back notes". Rule errors
 *          exit 1, and with --strict so does a warning of a harmful kind;
 *          other warnings exit 0.
 *   import --category ID [--action A] [--rules DIR] [--benign PATH]...
 *          [--benign-max N] LIST|-   (SPEC §3.5; import.h)
 *          turn a vendor keyword list (UTF-8, UTF-16 with BOM or GB18030,
 *          one per line, optional header) into a rule file on stdout:
 *          deduplicated after normalization, escaped; every dropped line
 *          is reported on stderr as FILE:LINE (import.h). With --rules (or
 *          $FILTERD_RULES) the category must exist in DIR/categories.tsv.
 * Exit 64 on usage errors, 70 on internal errors (out of memory, Hyperscan).
 * FILE is relative to DIR, as in the daemon's own messages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fd_error.h"
#include "import.h"
#include "lint.h"
#include "ruleset.h"
#include "ruletest.h"
#include "stream.h"

int filterctl_rules_main(int argc, char **argv);

#define EX_OK_       0
#define EX_FAIL_     1
#define EX_USAGE_    64
#define EX_SOFTWARE_ 70

static void usage(FILE *f)
{
    fputs("usage: filterctl rules check DIR   load and compile DIR, print a summary\n"
          "       filterctl rules test DIR    check, then run every *.tests file below DIR\n"
          "       filterctl rules lint [--strict] [--holdback] [--benign PATH]... DIR\n"
          "                                   check, then print warnings about rules that\n"
          "                                   load but may not do what their authors think;\n"
          "                                   --strict: exit 1 on a harmful kind (single\n"
          "                                   character, digits only, matches --benign text);\n"
          "                                   and the rules streams may hold back over 48\n"
          "                                   bytes for (--holdback: every rule's worst case)\n"
          "       filterctl rules import --category ID [--action block|flag|allow]\n"
          "                              [--rules DIR] [--benign PATH]... [--benign-max N]\n"
          "                              LIST|-\n"
          "                                   a keyword list as a rule file on stdout,\n"
          "                                   harmful keywords dropped, those matching\n"
          "                                   benign text left for review (SPEC 3.5)\n",
          f);
}

static void print_diag(const fd_diag *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(f, "%s\n", d->lines[i]);
}

/* Exit status for an engine error code that is not about the rules. */
static int internal_error(const char *what, int err)
{
    fprintf(stderr, "filterctl: %s: %s\n", what, fd_strerror(err));
    return EX_SOFTWARE_;
}

/*
 * Load and compile DIR into *OUT. On rule errors print them (stderr) and
 * return 1; on internal errors return 70; else 0 with *OUT holding one
 * reference for the caller.
 */
static int load(const char *dir, fd_ruleset **out)
{
    fd_diag diag = FD_DIAG_INIT;
    int r = fd_ruleset_load(dir, out, &diag);
    print_diag(&diag, stderr);
    fd_diag_free(&diag);
    if (r == FD_ERULES || r == FD_EIO) {
        fprintf(stderr, "filterctl: %s: the rule set has errors\n", dir);
        return EX_FAIL_;
    }
    if (r)
        return internal_error(dir, r);
    return EX_OK_;
}

/* The summary of `rules check`: what a moderator wants to see before a
 * reload — coverage per category, and how the rules will be matched. */
static void summary(const char *dir, const fd_ruleset *rs)
{
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    size_t(*per)[3] = calloc(rl->ncats ? rl->ncats : 1, sizeof *per);
    size_t act[3] = {0, 0, 0}, rx = 0;
    for (size_t i = 0; i < rl->nrules; i++) {
        const fd_rule *r = &rl->rules[i];
        if (per)
            per[r->category][r->action]++;
        act[r->action]++;
        rx += r->regex;
    }
    printf("%s: OK\n", dir);
    printf("version   %s\n", fd_ruleset_version(rs));
    printf("files     %zu\n", rl->nfiles);
    printf("rules     %zu (%zu literals, %zu regexes)\n", rl->nrules, rl->nrules - rx, rx);
    printf("compiled  %.1f ms, %zu bytes (Hyperscan %s)\n", fd_ruleset_compile_ms(rs),
           fd_ruleset_db_bytes(rs), fd_hs_version());
    printf("per action: block %zu, flag %zu, allow %zu\n", act[FD_BLOCK], act[FD_FLAG],
           act[FD_ALLOW]);
    printf("per view:   normalized %zu, word %zu, raw %zu\n",
           fd_ruleset_view_rules(rs, FD_VIEW_NORMALIZED), fd_ruleset_view_rules(rs, FD_VIEW_WORD),
           fd_ruleset_view_rules(rs, FD_VIEW_RAW));
    printf("per category:    total  block   flag  allow\n");
    size_t empty = 0;
    for (size_t c = 0; per && c < rl->ncats; c++) {
        size_t t = per[c][0] + per[c][1] + per[c][2];
        if (!t) {
            empty++;
            continue;
        }
        printf("  %-6s %-4s %6zu %6zu %6zu %6zu  %s\n", rl->cats[c].id, rl->cats[c].clause, t,
               per[c][FD_BLOCK], per[c][FD_FLAG], per[c][FD_ALLOW], rl->cats[c].en);
    }
    if (empty) {
        printf("categories without rules:");
        for (size_t c = 0; per && c < rl->ncats; c++)
            if (!(per[c][0] + per[c][1] + per[c][2]))
                printf(" %s", rl->cats[c].id);
        printf("\n");
    }
    free(per);
}

static int cmd_check(const char *dir)
{
    fd_ruleset *rs = NULL;
    int ex = load(dir, &rs);
    if (ex)
        return ex;
    summary(dir, rs);
    fd_ruleset_unref(rs);
    return EX_OK_;
}

static int cmd_test(const char *dir)
{
    fd_ruleset *rs = NULL;
    int ex = load(dir, &rs);
    if (ex)
        return ex;
    fd_diag diag = FD_DIAG_INIT;
    size_t nfiles = 0, ncases = 0, nfailed = 0;
    int r = fd_ruletest_run_dir(rs, dir, &diag, &nfiles, &ncases, &nfailed);
    print_diag(&diag, stdout);
    fd_diag_free(&diag);
    fd_ruleset_unref(rs);
    if (r && r != FD_ERULES && r != FD_EIO)
        return internal_error(dir, r);
    printf("%zu passed, %zu failed\n", ncases - nfailed, nfailed);
    fflush(stdout);
    if (r) {
        fprintf(stderr, "filterctl: %s: errors in the test files (see above)\n", dir);
        return EX_FAIL_;
    }
    if (nfiles == 0)
        fprintf(stderr, "filterctl: %s: no *.tests files found\n", dir);
    return nfailed ? EX_FAIL_ : EX_OK_;
}

/*
 * Entry point from filterctl's dispatcher: ARGV[0] is "rules", ARGV[1] the
 * action, ARGV[2] the rule directory. Returns the process exit status.
 */
/* Read PATH whole (caller frees); NULL with a message on failure. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, r;
    char *b = malloc(cap);
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "filterctl: %s: read error\n", path);
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

/* Whether category ID is in DIR/categories.tsv (1), not (0), or DIR's
 * categories cannot be read (-1). */
static int category_known(const char *dir, const char *id)
{
    char path[4096];
    size_t len;
    if (snprintf(path, sizeof path, "%s/categories.tsv", dir) >= (int)sizeof path)
        return -1;
    char *buf = read_all(path, &len);
    if (!buf)
        return -1;
    fd_rulelist rl;
    fd_rulelist_init(&rl);
    fd_diag d = FD_DIAG_INIT;
    int r = fd_rules_parse_categories(&rl, "categories.tsv", buf, len, &d)
                ? -1
                : fd_rules_find_category(&rl, id) >= 0;
    fd_rulelist_free(&rl);
    fd_diag_free(&d);
    free(buf);
    return r;
}

/* Read a whole stream (caller frees); NULL on a read error or no memory. */
static char *read_stream(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, r;
    char *b = malloc(cap);
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    if (!b || ferror(f)) {
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

/*
 * Add PATH to the benign corpus: a file (which must be UTF-8 text), or a
 * directory, whose regular files below it (hidden ones skipped) are added
 * in lexical order; there, files that are not UTF-8 text (compressed man
 * pages, fortune's .dat indexes) are skipped and counted in *SKIPPED.
 * Returns 0, or an exit status after printing why.
 */
static int add_benign(fd_benign *b, const char *path, size_t *files, size_t *skipped)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "filterctl: rules import: --benign %s: %s\n", path, strerror(errno));
        return EX_FAIL_;
    }
    char **paths = NULL;
    size_t np = 0;
    int dir = S_ISDIR(sb.st_mode);
    if (dir) {
        fd_diag d = FD_DIAG_INIT;
        int r = fd_rules_find_files(path, "", &paths, &np, &d);
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "filterctl: rules import: --benign %s: %s\n", path, d.lines[i]);
        fd_diag_free(&d);
        if (r) {
            fd_rules_free_paths(paths, np);
            return r == FD_ENOMEM ? internal_error("rules import", r) : EX_FAIL_;
        }
    }
    int ex = EX_OK_;
    for (size_t i = 0; i < (dir ? np : 1) && !ex; i++) {
        char full[8192];
        snprintf(full, sizeof full, "%s%s%s", path, dir ? "/" : "", dir ? paths[i] : "");
        size_t len;
        char *buf = read_all(full, &len);
        if (!buf) {
            ex = EX_FAIL_;
            break;
        }
        int r = fd_benign_add(b, full, buf, len);
        free(buf);
        if (r == FD_EUTF8 && dir) {
            (*skipped)++;
        } else if (r == FD_EUTF8) {
            fprintf(stderr, "filterctl: rules import: --benign %s: not UTF-8 text\n", full);
            ex = EX_FAIL_;
        } else if (r) {
            ex = internal_error("rules import", r);
        } else {
            (*files)++;
        }
    }
    fd_rules_free_paths(paths, np);
    return ex;
}

/*
 * `rules lint [--strict] [--benign PATH]... DIR`: the per-kind summary
 * first (what a moderator reads of a 50,000-warning list), then every
 * warning, then the count. With --strict, exit 1 when a warning of a
 * harmful kind exists (lint.h).
 */
static int cmd_lint(int argc, char **argv)
{
    const char *dir = NULL;
    int strict = 0, holdback_all = 0, ex = EX_OK_;
    fd_benign *corpus = NULL;
    size_t bfiles = 0, bskipped = 0;
    for (int i = 2; i < argc && !ex; i++) {
        if (!strcmp(argv[i], "--strict")) {
            strict = 1;
        } else if (!strcmp(argv[i], "--holdback")) {
            holdback_all = 1;
        } else if (!strcmp(argv[i], "--benign") && i + 1 < argc) {
            if (!corpus && fd_benign_new(&corpus))
                ex = internal_error("rules lint", FD_ENOMEM);
            if (!ex)
                ex = add_benign(corpus, argv[++i], &bfiles, &bskipped);
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            usage(stderr);
            ex = EX_USAGE_;
        }
    }
    if (!ex && !dir) {
        usage(stderr);
        ex = EX_USAGE_;
    }
    fd_ruleset *rs = NULL;
    if (!ex)
        ex = load(dir, &rs);
    if (ex) {
        fd_benign_free(corpus);
        return ex;
    }
    fd_diag diag = FD_DIAG_INIT;
    size_t count[FD_LINT_NKINDS];
    int n = fd_lint_ex(rs, corpus, &diag, count);
    fd_benign_free(corpus);
    if (n < 0) {
        fd_ruleset_unref(rs);
        fd_diag_free(&diag);
        return internal_error(dir, n);
    }
    /* The streams' worst-case hold-back: a note per rule over 48 bytes,
     * or per rule with --holdback. */
    fd_diag notes = FD_DIAG_INIT;
    int nnotes = fd_stream_holdback_notes(rs, 48, holdback_all, &notes);
    fd_ruleset_unref(rs);
    size_t harmful = 0;
    for (int k = 0; k < FD_LINT_NKINDS; k++)
        if (fd_lint_harmful((fd_lint_kind)k))
            harmful += count[k];
    printf("%s: %d warning%s, %zu of a harmful kind\n", dir, n, n == 1 ? "" : "s", harmful);
    for (int k = 0; k < FD_LINT_NKINDS; k++)
        if (count[k])
            printf("  %6zu  %s%s\n", count[k], fd_lint_kind_name((fd_lint_kind)k),
                   fd_lint_harmful((fd_lint_kind)k) ? " (harmful)" : "");
    if (corpus)
        printf("  (benign corpus: %zu files, %zu skipped as not UTF-8 text)\n", bfiles, bskipped);
    print_diag(&diag, stdout);
    fd_diag_free(&diag);
    print_diag(&notes, stdout);
    fd_diag_free(&notes);
    printf("%d warning%s, %d hold-back note%s\n", n, n == 1 ? "" : "s", nnotes,
           nnotes == 1 ? "" : "s");
    if (strict && harmful) {
        fflush(stdout);
        fprintf(stderr, "filterctl: %s: %zu warning%s of a harmful kind (--strict)\n", dir, harmful,
                harmful == 1 ? "" : "s");
        return EX_FAIL_;
    }
    return EX_OK_;
}

static int cmd_import(int argc, char **argv)
{
    const char *cat = NULL, *file = NULL, *dir = getenv("FILTERD_RULES");
    fd_action action = FD_BLOCK;
    const char **benign = calloc((size_t)argc, sizeof *benign);
    size_t nbenign = 0, benign_max = 0;
    int ex = EX_OK_;
    if (!benign)
        return internal_error("rules import", FD_ENOMEM);
    for (int i = 2; i < argc && !ex; i++) {
        if (!strcmp(argv[i], "--category") && i + 1 < argc) {
            cat = argv[++i];
        } else if (!strcmp(argv[i], "--rules") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--benign") && i + 1 < argc) {
            benign[nbenign++] = argv[++i];
        } else if (!strcmp(argv[i], "--benign-max") && i + 1 < argc) {
            char *end;
            const char *v = argv[++i];
            errno = 0;
            unsigned long long m = strtoull(v, &end, 10);
            if (!*v || *end || *v == '-' || errno) {
                fprintf(stderr, "filterctl: rules import: --benign-max wants a count, not '%s'\n",
                        v);
                ex = EX_USAGE_;
            }
            benign_max = (size_t)m;
        } else if (!strcmp(argv[i], "--action") && i + 1 < argc) {
            const char *a = argv[++i];
            if (!strcmp(a, "block"))
                action = FD_BLOCK;
            else if (!strcmp(a, "flag"))
                action = FD_FLAG;
            else if (!strcmp(a, "allow"))
                action = FD_ALLOW;
            else {
                fprintf(stderr, "filterctl: rules import: unknown action '%s'\n", a);
                ex = EX_USAGE_;
            }
        } else if ((argv[i][0] != '-' || !strcmp(argv[i], "-")) && !file) {
            file = argv[i];
        } else {
            usage(stderr);
            ex = EX_USAGE_;
        }
    }
    if (!ex && (!cat || !file || !*cat || strpbrk(cat, " \t\n"))) {
        usage(stderr);
        ex = EX_USAGE_;
    }
    fd_rulelist existing;
    fd_rulelist_init(&existing);
    int have_existing = 0;
    if (!ex && dir && *dir) {
        int k = category_known(dir, cat);
        if (k == 0) {
            fprintf(stderr,
                    "filterctl: rules import: unknown category '%s' (not in %s/categories.tsv)\n",
                    cat, dir);
            ex = EX_FAIL_;
        } else if (k < 0) {
            fprintf(stderr, "filterctl: rules import: cannot check category '%s' against %s\n", cat,
                    dir);
        } else {
            /* Keywords that are rules already are dropped: the directory
             * must load, or the comparison would be with half of it. */
            fd_diag d = FD_DIAG_INIT;
            int r = fd_rules_load_dir(dir, &existing, &d);
            print_diag(&d, stderr);
            fd_diag_free(&d);
            if (r == FD_ENOMEM) {
                ex = internal_error("rules import", r);
            } else if (r) {
                fprintf(stderr, "filterctl: rules import: %s: the rule set has errors\n", dir);
                ex = EX_FAIL_;
            }
            have_existing = 1;
        }
    }
    fd_benign *corpus = NULL;
    size_t bfiles = 0, bskipped = 0;
    if (!ex && nbenign) {
        if (fd_benign_new(&corpus))
            ex = internal_error("rules import", FD_ENOMEM);
        for (size_t i = 0; i < nbenign && !ex; i++)
            ex = add_benign(corpus, benign[i], &bfiles, &bskipped);
    }
    size_t len = 0;
    char *buf = NULL;
    int from_stdin = file && !strcmp(file, "-");
    if (!ex) {
        buf = from_stdin ? read_stream(stdin, &len) : read_all(file, &len);
        if (!buf) {
            if (from_stdin)
                fprintf(stderr, "filterctl: rules import: cannot read stdin\n");
            ex = EX_FAIL_;
        }
    }
    if (!ex) {
        fd_diag report = FD_DIAG_INIT;
        fd_import_opts o = {
            cat,    action,    from_stdin ? "stdin" : file, have_existing ? &existing : NULL,
            corpus, benign_max};
        fd_import_stats st;
        int r = fd_import_keywords(buf, len, &o, stdout, &report, &st);
        print_diag(&report, stderr);
        fd_diag_free(&report);
        if (r == FD_EUTF8) {
            fprintf(stderr, "filterctl: %s: neither UTF-8, UTF-16 nor GB18030\n", o.source);
            ex = EX_FAIL_;
        } else if (r) {
            ex = internal_error("rules import", r);
        } else {
            if (corpus)
                fprintf(stderr,
                        "benign corpus: %zu files, %zu paragraphs%s%zu files skipped (not UTF-8 "
                        "text)\n",
                        bfiles, st.benign_docs, ", ", bskipped);
            for (int k = 0; k < FD_IMP_NREASONS; k++)
                if (st.reason[k])
                    fprintf(stderr, "dropped %zu: %s\n", st.reason[k],
                            fd_import_reason_name((fd_import_reason)k));
            if (st.word)
                fprintf(stderr, "word view %zu: written with @match word (spaced alphabet)\n",
                        st.word);
            if (corpus)
                fprintf(stderr, "review %zu: match more than %zu benign paragraph%s\n", st.review,
                        benign_max, benign_max == 1 ? "" : "s");
            fprintf(stderr, "imported %zu, review %zu, dropped %zu\n", st.imported, st.review,
                    st.dropped);
        }
    }
    free(buf);
    fd_benign_free(corpus);
    fd_rulelist_free(&existing);
    free(benign);
    return ex;
}

int filterctl_rules_main(int argc, char **argv)
{
    if (argc >= 2 &&
        (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
        usage(stdout);
        return EX_OK_;
    }
    if (argc >= 2 && !strcmp(argv[1], "import"))
        return cmd_import(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "lint"))
        return cmd_lint(argc, argv);
    if (argc != 3 || argv[2][0] == '\0' || (argv[2][0] == '-' && argv[2][1] != '\0')) {
        usage(stderr);
        return EX_USAGE_;
    }
    if (!strcmp(argv[1], "check"))
        return cmd_check(argv[2]);
    if (!strcmp(argv[1], "test"))
        return cmd_test(argv[2]);
    fprintf(stderr, "filterctl: rules: unknown action '%s'\n", argv[1]);
    usage(stderr);
    return EX_USAGE_;
}
