/*
 * cmd_audit.c — `filterctl audit verify|stats|find|report FILE...` (SPEC
 * §1, §4): the argument parsing of all four, and verify and stats. No
 * daemon involved: all read audit files written by filterd --audit, plain
 * or gzip-compressed (stats, find, report; see audit_common.h).
 *
 *   verify  the files, in the order given, as one chain (the engine's
 *           fd_audit_verify: every line a JSON object, seq increasing,
 *           prev = SHA-256 of the line before). Prints "OK: N lines" and
 *           exits 0, or prints the first bad line as "FILE:LINE: message"
 *           and exits 1.
 *   stats   counts over the records of all files: per op, per decision,
 *           per category (records with a counted match in it), per rule
 *           (matches; the table shows the top 10, --json all of them).
 *           --since/--until TIME count only records whose ts is in
 *           [since, until) (RFC 3339, e.g. 2026-11-01T00:00:00Z or +08:00;
 *           a bare date means its midnight UTC). --rules DIR names the
 *           categories from DIR/categories.tsv. Lines that are not records
 *           are counted as "unparsed", never fatal: stats is for reading,
 *           verify is for trusting.
 *   find    audit_find.c;  report  audit_report.c.
 * Exit 64 on usage errors, 70 when a file cannot be read.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_common.h"
#include "auditlog.h"
#include "fd_error.h"
#include "filterctl.h"
#include "hash.h"

static void usage(FILE *f)
{
    fputs("usage: filterctl audit verify FILE...\n"
          "           check the files, in order, as one hash chain (JSON, seq, prev);\n"
          "           exit 0 if intact, 1 naming the first bad line as FILE:LINE\n"
          "       filterctl audit stats FILE... [--since T] [--until T] [--json] [--rules DIR]\n"
          "           records per op, decision, category and rule (top 10; --json: all)\n"
          "       filterctl audit find FILE... [--id ID] [--sha256 HEX] [--text TEXT]\n"
          "                                    [--since T] [--until T]\n"
          "           print the records (JSON lines, as stored) that match every filter;\n"
          "           --text is hashed here (SHA-256) and compared with sha256;\n"
          "           exit 0 found, 1 none found\n"
          "       filterctl audit report FILE... [--html OUT] [--json] [--rules DIR]\n"
          "                                      [--since T] [--until T]\n"
          "           a compliance report: --html writes one self-contained HTML file,\n"
          "           --json prints the same figures; exit 0, or 1 if a chain is broken\n"
          "FILE: oldest first, plain or .gz ('-': stdin; verify: plain files only).\n"
          "T: RFC 3339 (2026-11-01T00:00:00+08:00) or a date (midnight UTC); --since is\n"
          "inclusive, --until exclusive. --rules DIR: category names from\n"
          "DIR/categories.tsv (report: default as filterd --rules).\n"
          "exit status: 0 ok, 1 see above, 64 usage error, 70 unreadable file\n",
          f);
}

/* ---- verify ------------------------------------------------------------- */

static int cmd_verify(char **files, int n)
{
    fd_diag diag = FD_DIAG_INIT;
    uint64_t lines = 0;
    int rc = fd_audit_verify((const char *const *)files, (size_t)n, &diag, &lines);
    int status;
    if (rc == 0) {
        printf("OK: %llu lines in %d file%s, chain intact\n", (unsigned long long)lines, n,
               n == 1 ? "" : "s");
        status = 0;
    } else if (rc == FD_ERULES) {
        for (size_t i = 0; i < diag.n; i++) {
            printf("%s\n", diag.lines[i]);
            /* A changed line still chains to the one before it: the break
             * shows on the line after it. Say so, naming both. */
            const char *m = strstr(diag.lines[i], ": chain broken");
            const char *colon = m ? m : NULL;
            while (colon && colon > diag.lines[i] && colon[-1] >= '0' && colon[-1] <= '9')
                colon--;
            if (m && colon > diag.lines[i] && colon[-1] == ':') {
                unsigned long ln = strtoul(colon, NULL, 10);
                if (ln > 1)
                    printf("%.*s:%lu: note: the chain breaks after this line: it was changed "
                           "after it was written, or line %lu's prev was, or lines between "
                           "them were deleted or moved\n",
                           (int)(colon - 1 - diag.lines[i]), diag.lines[i], ln - 1, ln);
            }
        }
        printf("FAILED after %llu good lines\n", (unsigned long long)lines);
        status = 1;
    } else {
        for (size_t i = 0; i < diag.n; i++)
            fprintf(stderr, "filterctl: %s\n", diag.lines[i]);
        if (diag.n == 0)
            fprintf(stderr, "filterctl: audit verify: %s\n", fd_strerror(rc));
        status = EXIT_SOFTWARE;
    }
    fd_diag_free(&diag);
    return status;
}

/* ---- stats -------------------------------------------------------------- */

static void print_json(fa_stats *c, const fa_table *names, fa_entry **cats, fa_entry **rules)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "records", (double)c->records);
    cJSON_AddNumberToObject(o, "unparsed", (double)c->unparsed);
    cJSON_AddNumberToObject(o, "before_since", (double)c->before_since);
    if (c->until != FA_NO_TIME)
        cJSON_AddNumberToObject(o, "after_until", (double)c->after_until);
    if (c->first_ts[0]) {
        cJSON_AddStringToObject(o, "first_ts", c->first_ts);
        cJSON_AddStringToObject(o, "last_ts", c->last_ts);
    }
    cJSON *ops = cJSON_AddObjectToObject(o, "ops");
    for (int i = 0; i < FA_NOPS; i++)
        if (i < FA_OP_PROXY || c->ops[i])
            cJSON_AddNumberToObject(ops, fa_op_names[i], (double)c->ops[i]);
    cJSON *ds = cJSON_AddObjectToObject(o, "decisions");
    for (int i = 0; i < FA_NDEC; i++)
        if (i < FA_OTHER || c->decisions[i])
            cJSON_AddNumberToObject(ds, fa_decision_names[i], (double)c->decisions[i]);
    cJSON *cs = cJSON_AddArrayToObject(o, "categories");
    for (size_t i = 0; i < c->cats.n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "category", cats[i]->key);
        const fa_entry *name = fa_table_find(names, cats[i]->key);
        if (name && name->src)
            cJSON_AddStringToObject(e, "name", name->src);
        cJSON_AddNumberToObject(e, "records", (double)cats[i]->count);
        cJSON_AddItemToArray(cs, e);
    }
    cJSON *rs = cJSON_AddArrayToObject(o, "rules");
    for (size_t i = 0; i < c->rules.n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "rule", rules[i]->key);
        if (rules[i]->category)
            cJSON_AddStringToObject(e, "category", rules[i]->category);
        if (rules[i]->src)
            cJSON_AddStringToObject(e, "src", rules[i]->src);
        cJSON_AddNumberToObject(e, "matches", (double)rules[i]->count);
        cJSON_AddItemToArray(rs, e);
    }
    if (c->cats_other)
        cJSON_AddNumberToObject(o, "categories_other", (double)c->cats_other);
    if (c->rules_other)
        cJSON_AddNumberToObject(o, "rules_other", (double)c->rules_other);
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

static void print_table(fa_stats *c, const fa_table *names, int nfiles, fa_entry **cats,
                        fa_entry **rules)
{
    printf("records:    %llu in %d file%s", (unsigned long long)c->records, nfiles,
           nfiles == 1 ? "" : "s");
    if (c->first_ts[0])
        printf(", %s .. %s", c->first_ts, c->last_ts);
    printf("\n");
    if (c->before_since)
        printf("            (%llu earlier records left out by --since)\n",
               (unsigned long long)c->before_since);
    if (c->after_until)
        printf("            (%llu later records left out by --until)\n",
               (unsigned long long)c->after_until);
    if (c->unparsed)
        printf("unparsed:   %llu lines (not JSON records; run 'filterctl audit verify')\n",
               (unsigned long long)c->unparsed);
    printf("ops:        check %llu, stream %llu", (unsigned long long)c->ops[0],
           (unsigned long long)c->ops[1]);
    for (int i = FA_OP_PROXY; i < FA_NOPS; i++)
        if (c->ops[i])
            printf(", %s %llu", fa_op_names[i], (unsigned long long)c->ops[i]);
    printf("\n\ndecisions\n");
    for (int i = 0; i < FA_NDEC; i++)
        if (i < FA_OTHER || c->decisions[i])
            printf("  %-8s %12llu\n", fa_decision_names[i], (unsigned long long)c->decisions[i]);
    printf("\ncategories (records with a match)\n");
    for (size_t i = 0; i < c->cats.n; i++) {
        const fa_entry *name = fa_table_find(names, cats[i]->key);
        const char *en = name ? name->src : NULL;
        printf("  %-8s %12llu%s%s\n", cats[i]->key, (unsigned long long)cats[i]->count,
               en ? "  " : "", en ? en : "");
    }
    if (!c->cats.n)
        printf("  (none)\n");
    size_t top = c->rules.n < 10 ? c->rules.n : 10;
    printf("\ntop %zu rules of %zu (matches)\n", top, c->rules.n);
    for (size_t i = 0; i < top; i++)
        printf("  %12llu  %-24s %-8s %s\n", (unsigned long long)rules[i]->count, rules[i]->key,
               rules[i]->category ? rules[i]->category : "", rules[i]->src ? rules[i]->src : "");
    if (!c->rules.n)
        printf("  (none)\n");
    if (c->cats_other || c->rules_other)
        printf("\n(beyond %d categories and %d rules: %llu category counts and %llu matches "
               "not itemised)\n",
               FA_MAX_CATEGORIES, FA_MAX_RULES, (unsigned long long)c->cats_other,
               (unsigned long long)c->rules_other);
}

static int cmd_stats(const fa_opts *o)
{
    fa_stats c;
    fa_stats_init(&c, o->since, o->until);
    fa_table names = {0};
    int status = 0;
    if (o->rules_dir && fa_load_names(&names, o->rules_dir) != 0) {
        status = EXIT_SOFTWARE;
        goto out;
    }
    for (int f = 0; f < o->nfiles && !status; f++) {
        fa_reader r;
        if (fa_reader_open(&r, o->files[f]) != 0) {
            fprintf(stderr, "filterctl: %s: %s\n", o->files[f], strerror(errno));
            status = EXIT_SOFTWARE;
            break;
        }
        int rc;
        while ((rc = fa_reader_next(&r)) > 0) {
            if (r.len == 0)
                continue;
            cJSON *j = r.too_long ? NULL : cJSON_ParseWithLength(r.line, r.len);
            int64_t t;
            int di;
            if (!cJSON_IsObject(j)) {
                c.unparsed++;
            } else if (fa_stats_add(&c, j, &t, &di) < 0) {
                fprintf(stderr, "filterctl: out of memory\n");
                status = EXIT_SOFTWARE;
            }
            cJSON_Delete(j);
            if (status)
                break;
        }
        if (rc < 0) {
            fprintf(stderr, "filterctl: %s:%llu: %s\n", o->files[f],
                    (unsigned long long)r.lineno + 1, r.err);
            status = EXIT_SOFTWARE;
        }
        fa_reader_close(&r);
    }
    if (!status) {
        fa_entry **cats = fa_table_sorted(&c.cats, fa_by_key);
        fa_entry **rules = fa_table_sorted(&c.rules, fa_by_count);
        if (!cats || !rules) {
            fprintf(stderr, "filterctl: out of memory\n");
            status = EXIT_SOFTWARE;
        } else if (o->json) {
            /* categories in taxonomy order (by id), rules most matched first */
            print_json(&c, &names, cats, rules);
        } else {
            print_table(&c, &names, o->nfiles, cats, rules);
        }
        free(cats);
        free(rules);
    }
out:
    fa_stats_free(&c);
    fa_table_free(&names);
    return status;
}

/* ---- arguments ---------------------------------------------------------- */

static int take_time(const char *opt, const char *v, int64_t *out)
{
    if (fa_parse_time(v, out) == 0)
        return 0;
    fprintf(stderr,
            "filterctl: %s: '%s' is not an RFC 3339 time "
            "(e.g. 2026-11-01T00:00:00Z) or a date (2026-11-01)\n",
            opt, v);
    return -1;
}

static bool is_option(const char *a, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(a, *names) == 0)
            return true;
    return false;
}

/* argv[0] is "audit"; global options may sit anywhere after it. */
int filterctl_audit_main(int argc, char **argv)
{
    static const char *const valued[] = {"--since",  "--until", "--rules", "--id",
                                         "--sha256", "--text",  "--html",  NULL};
    const char *action = NULL;
    bool only_files = false, any_time = false;
    fa_opts o;
    memset(&o, 0, sizeof o);
    o.since = o.until = FA_NO_TIME;
    o.files = calloc((size_t)argc + 1, sizeof *o.files);
    int status = EXIT_USAGE;
    if (!o.files)
        return EXIT_SOFTWARE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = true;
        } else if (!only_files && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            usage(stdout);
            status = 0;
            goto out;
        } else if (!only_files && strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (!only_files && is_option(a, valued)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "filterctl: %s needs a value\n", a);
                goto out;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--rules") == 0) {
                o.rules_dir = v;
            } else if (strcmp(a, "--since") == 0) {
                if (take_time(a, v, &o.since) != 0)
                    goto out;
                any_time = true;
            } else if (strcmp(a, "--until") == 0) {
                if (take_time(a, v, &o.until) != 0)
                    goto out;
                any_time = true;
            } else if (strcmp(a, "--id") == 0) {
                o.id = v;
            } else if (strcmp(a, "--html") == 0) {
                o.html = v;
            } else if (strcmp(a, "--text") == 0) {
                if (fd_sha256_hex(v, strlen(v), o.text_hex) != 0) {
                    fprintf(stderr, "filterctl: out of memory\n");
                    status = EXIT_SOFTWARE;
                    goto out;
                }
                o.have_text = true;
            } else { /* --sha256 */
                size_t n = strlen(v);
                bool hex = n == 64;
                for (size_t k = 0; hex && k < n; k++) {
                    hex = isxdigit((unsigned char)v[k]) != 0;
                    o.sha256[k] = (char)tolower((unsigned char)v[k]);
                }
                if (!hex) {
                    fprintf(stderr, "filterctl: --sha256: '%s' is not 64 hex digits\n", v);
                    goto out;
                }
                o.sha256[64] = '\0';
                o.have_sha256 = true;
            }
        } else if (!only_files && strcmp(a, "--socket") == 0) {
            i++; /* a global option, meaningless here */
        } else if (!only_files && a[0] == '-' && a[1]) {
            fprintf(stderr, "filterctl: audit: unknown option '%s'\n", a);
            usage(stderr);
            goto out;
        } else if (!action) {
            action = a;
        } else {
            o.files[o.nfiles++] = argv[i];
        }
    }
    static const char *const actions[] = {"verify", "stats", "find", "report", NULL};
    if (!action || !is_option(action, actions)) {
        if (action)
            fprintf(stderr, "filterctl: audit: unknown action '%s'\n", action);
        usage(stderr);
        goto out;
    }
    if (o.nfiles == 0) {
        fprintf(stderr, "filterctl: audit %s: no FILE given\n", action);
        usage(stderr);
        goto out;
    }
    if (o.since != FA_NO_TIME && o.until != FA_NO_TIME && o.until <= o.since) {
        fprintf(stderr, "filterctl: --until must be later than --since\n");
        goto out;
    }
    bool find_opts = o.id || o.have_sha256 || o.have_text;
    bool is_find = strcmp(action, "find") == 0, is_report = strcmp(action, "report") == 0;
    if (strcmp(action, "verify") == 0) {
        if (any_time || o.json || o.rules_dir || find_opts || o.html) {
            fprintf(stderr, "filterctl: audit verify takes only files\n");
            goto out;
        }
        status = cmd_verify(o.files, o.nfiles);
    } else if (find_opts && !is_find) {
        fprintf(stderr, "filterctl: --id, --sha256 and --text are options of audit find\n");
    } else if (o.html && !is_report) {
        fprintf(stderr, "filterctl: --html is an option of audit report\n");
    } else if (is_find) {
        if (o.json || o.rules_dir) {
            fprintf(stderr, "filterctl: audit find prints JSON lines; it takes no --json or "
                            "--rules\n");
            goto out;
        }
        status = fa_find(&o);
    } else if (is_report) {
        if (!o.html && !o.json) {
            fprintf(stderr, "filterctl: audit report needs --html OUT, --json or both\n");
            goto out;
        }
        status = fa_report(&o);
    } else {
        status = cmd_stats(&o);
    }
out:
    free(o.files);
    return status;
}
