/*
 * cmd_audit.c — `filterctl audit verify FILE...` and `filterctl audit stats
 * FILE... [--since TIME] [--json] [--rules DIR]` (SPEC §4). No daemon
 * involved: both read audit files written by filterd --audit.
 *
 *   verify  the files, in the order given, as one chain (the engine's
 *           fd_audit_verify: every line a JSON object, seq increasing,
 *           prev = SHA-256 of the line before). Prints "OK: N lines" and
 *           exits 0, or prints the first bad line as "FILE:LINE: message"
 *           and exits 1.
 *   stats   counts over the records of all files: per op, per decision,
 *           per category (records with a counted match in it), per rule
 *           (matches; the table shows the top 10, --json all of them).
 *           --since TIME counts only records whose ts is at or after TIME
 *           (RFC 3339, e.g. 2026-11-01T00:00:00Z or +08:00; a bare date
 *           means its midnight UTC). --rules DIR names the categories from
 *           DIR/categories.tsv. Lines that are not records are counted as
 *           "unparsed", never fatal: stats is for reading, verify is for
 *           trusting.
 * Exit 64 on usage errors, 70 when a file cannot be read.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditlog.h"
#include "fd_error.h"
#include "filterctl.h"

static void usage(FILE *f)
{
    fputs("usage: filterctl audit verify FILE...\n"
          "           check the files, in order, as one hash chain (JSON, seq, prev);\n"
          "           exit 0 if intact, 1 naming the first bad line as FILE:LINE\n"
          "       filterctl audit stats FILE... [--since TIME] [--json] [--rules DIR]\n"
          "           records per op, decision, category and rule (top 10; --json: all);\n"
          "           --since: only records at or after TIME (RFC 3339, or a date);\n"
          "           --rules: name categories from DIR/categories.tsv\n"
          "exit status: 0 ok, 1 verify found a bad line, 64 usage error, 70 unreadable file\n",
          f);
}

/* ---- time --------------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/*
 * RFC 3339 date-time ("2026-11-22T10:15:06.123456Z", offsets "+08:00",
 * 't'/' ' separators, 'z') or a full date ("2026-11-22", midnight UTC) to
 * microseconds since the epoch. Returns 0 or -1.
 */
static int parse_time(const char *s, int64_t *us)
{
    int Y, M, D, h = 0, m = 0, sec = 0;
    if (strlen(s) < 10 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || M < 1 || M > 12 || D < 1 || D > 31)
        return -1;
    const char *p = s + 10;
    int64_t frac = 0, off = 0;
    if (*p) {
        if ((*p != 'T' && *p != 't' && *p != ' ') || digits(p + 1, 2, &h) || p[3] != ':' ||
            digits(p + 4, 2, &m) || p[6] != ':' || digits(p + 7, 2, &sec) || h > 23 || m > 59 ||
            sec > 60)
            return -1;
        p += 9;
        if (*p == '.') {
            int n = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, n++)
                if (n < 6)
                    frac = frac * 10 + (*p - '0');
            if (n == 0)
                return -1;
            for (; n < 6; n++)
                frac *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
                return -1;
            off = (int64_t)(oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
            p += 6;
        } else {
            return -1;
        }
        if (*p)
            return -1;
    }
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *us = ((int64_t)t - off) * 1000000 + frac;
    return 0;
}

/* ---- a small string -> counters table ----------------------------------- */

typedef struct entry {
    char *key;
    char *category; /* rules: the category of its first match */
    char *src;      /* rules: FILE:LINE of its first match */
    uint64_t count; /* categories: records; rules: matches */
    uint64_t records;
} entry;

typedef struct table {
    entry *e;
    size_t n, cap; /* open addressing, cap a power of two */
} table;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The entry of KEY, created if missing; NULL when out of memory. */
static entry *table_get(table *t, const char *key)
{
    if (2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        entry *e = calloc(cap, sizeof *e);
        if (!e)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->e[i].key)
                continue;
            size_t j = fnv1a(t->e[i].key) & (cap - 1);
            while (e[j].key)
                j = (j + 1) & (cap - 1);
            e[j] = t->e[i];
        }
        free(t->e);
        t->e = e;
        t->cap = cap;
    }
    size_t j = fnv1a(key) & (t->cap - 1);
    while (t->e[j].key) {
        if (strcmp(t->e[j].key, key) == 0)
            return &t->e[j];
        j = (j + 1) & (t->cap - 1);
    }
    t->e[j].key = strdup(key);
    if (!t->e[j].key)
        return NULL;
    t->n++;
    return &t->e[j];
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        free(t->e[i].key);
        free(t->e[i].category);
        free(t->e[i].src);
    }
    free(t->e);
}

static int by_count(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int by_key(const void *a, const void *b)
{
    return strcmp((*(entry *const *)a)->key, (*(entry *const *)b)->key);
}

static entry **table_sorted(const table *t)
{
    entry **v = malloc((t->n ? t->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].key)
            v[k++] = &t->e[i];
    qsort(v, k, sizeof *v, by_count);
    return v;
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

typedef struct counts {
    uint64_t records, unparsed, skipped; /* skipped: before --since */
    uint64_t ops[3];                     /* check, stream, other */
    uint64_t decisions[4];               /* allow, flag, block, other */
    char first_ts[40], last_ts[40];
    int64_t first_us, last_us;
    table cats, rules;
    table names; /* --rules: category id -> name (in src) */
} counts;

static const char *const decision_names[] = {"allow", "flag", "block", "other"};

static void set_str(char **dst, const char *s)
{
    if (!*dst && s)
        *dst = strdup(s);
}

/* Count one record; 0, or -1 when out of memory. */
static int count_record(counts *c, const cJSON *j, int64_t since)
{
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "ts");
    int64_t t = 0;
    bool have_t = cJSON_IsString(ts) && parse_time(ts->valuestring, &t) == 0;
    if (since != INT64_MIN && (!have_t || t < since)) {
        c->skipped++;
        return 0;
    }
    c->records++;
    if (have_t) {
        if (!c->first_ts[0] || t < c->first_us) {
            c->first_us = t;
            snprintf(c->first_ts, sizeof c->first_ts, "%s", ts->valuestring);
        }
        if (!c->last_ts[0] || t > c->last_us) {
            c->last_us = t;
            snprintf(c->last_ts, sizeof c->last_ts, "%s", ts->valuestring);
        }
    }
    const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "op"));
    c->ops[op && strcmp(op, "check") == 0 ? 0 : op && strcmp(op, "stream") == 0 ? 1 : 2]++;
    const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "decision"));
    int di = 3;
    for (int i = 0; i < 3; i++)
        if (d && strcmp(d, decision_names[i]) == 0)
            di = i;
    c->decisions[di]++;

    /* categories count records (once each), rules count matches */
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "matches");
    const cJSON *m;
    cJSON_ArrayForEach(m, ms)
    {
        const char *rule = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "rule"));
        const char *cat = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "category"));
        const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "src"));
        if (cat) {
            bool seen = false;
            for (const cJSON *p = ms->child; p != m; p = p->next) {
                const char *pc =
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "category"));
                if (pc && strcmp(pc, cat) == 0) {
                    seen = true;
                    break;
                }
            }
            if (!seen) {
                entry *e = table_get(&c->cats, cat);
                if (!e)
                    return -1;
                e->count++;
            }
        }
        if (rule) {
            entry *e = table_get(&c->rules, rule);
            if (!e)
                return -1;
            e->count++;
            set_str(&e->category, cat);
            set_str(&e->src, src);
        }
    }
    return 0;
}

/* Read DIR/categories.tsv into c->names (id -> English name). */
static int load_names(counts *c, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/categories.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "filterctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *f1 = strchr(line, '\t');
        if (!f1 || line[0] == '#')
            continue;
        *f1++ = '\0';
        char *f2 = strchr(f1, '\t');
        char *en = f2 ? f2 + 1 : f1;
        char *f3 = strchr(en, '\t');
        if (f3)
            *f3 = '\0';
        entry *e = table_get(&c->names, line);
        if (e)
            set_str(&e->src, en);
    }
    free(line);
    fclose(f);
    return 0;
}

static const char *cat_name(counts *c, const char *id)
{
    if (!c->names.n)
        return NULL;
    size_t j = fnv1a(id) & (c->names.cap - 1);
    while (c->names.e[j].key) {
        if (strcmp(c->names.e[j].key, id) == 0)
            return c->names.e[j].src;
        j = (j + 1) & (c->names.cap - 1);
    }
    return NULL;
}

static void print_json(counts *c, entry **cats, entry **rules)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "records", (double)c->records);
    cJSON_AddNumberToObject(o, "unparsed", (double)c->unparsed);
    cJSON_AddNumberToObject(o, "before_since", (double)c->skipped);
    if (c->first_ts[0]) {
        cJSON_AddStringToObject(o, "first_ts", c->first_ts);
        cJSON_AddStringToObject(o, "last_ts", c->last_ts);
    }
    cJSON *ops = cJSON_AddObjectToObject(o, "ops");
    cJSON_AddNumberToObject(ops, "check", (double)c->ops[0]);
    cJSON_AddNumberToObject(ops, "stream", (double)c->ops[1]);
    if (c->ops[2])
        cJSON_AddNumberToObject(ops, "other", (double)c->ops[2]);
    cJSON *ds = cJSON_AddObjectToObject(o, "decisions");
    for (int i = 0; i < 4; i++)
        if (i < 3 || c->decisions[i])
            cJSON_AddNumberToObject(ds, decision_names[i], (double)c->decisions[i]);
    cJSON *cs = cJSON_AddArrayToObject(o, "categories");
    for (size_t i = 0; i < c->cats.n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "category", cats[i]->key);
        const char *name = cat_name(c, cats[i]->key);
        if (name)
            cJSON_AddStringToObject(e, "name", name);
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
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

static void print_table(counts *c, int nfiles, entry **cats, entry **rules)
{
    printf("records:    %llu in %d file%s", (unsigned long long)c->records, nfiles,
           nfiles == 1 ? "" : "s");
    if (c->first_ts[0])
        printf(", %s .. %s", c->first_ts, c->last_ts);
    printf("\n");
    if (c->skipped)
        printf("            (%llu earlier records left out by --since)\n",
               (unsigned long long)c->skipped);
    if (c->unparsed)
        printf("unparsed:   %llu lines (not JSON records; run 'filterctl audit verify')\n",
               (unsigned long long)c->unparsed);
    printf("ops:        check %llu, stream %llu", (unsigned long long)c->ops[0],
           (unsigned long long)c->ops[1]);
    if (c->ops[2])
        printf(", other %llu", (unsigned long long)c->ops[2]);
    printf("\n\ndecisions\n");
    for (int i = 0; i < 4; i++)
        if (i < 3 || c->decisions[i])
            printf("  %-8s %12llu\n", decision_names[i], (unsigned long long)c->decisions[i]);
    printf("\ncategories (records with a match)\n");
    for (size_t i = 0; i < c->cats.n; i++) {
        const char *name = cat_name(c, cats[i]->key);
        printf("  %-8s %12llu%s%s\n", cats[i]->key, (unsigned long long)cats[i]->count,
               name ? "  " : "", name ? name : "");
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
}

static int cmd_stats(char **files, int n, int64_t since, bool json, const char *rules_dir)
{
    counts c;
    memset(&c, 0, sizeof c);
    int status = 0;
    if (rules_dir && load_names(&c, rules_dir) != 0) {
        status = EXIT_SOFTWARE;
        goto out;
    }
    char *line = NULL;
    size_t cap = 0;
    for (int f = 0; f < n && !status; f++) {
        FILE *fp = strcmp(files[f], "-") == 0 ? stdin : fopen(files[f], "r");
        if (!fp) {
            fprintf(stderr, "filterctl: %s: %s\n", files[f], strerror(errno));
            status = EXIT_SOFTWARE;
            break;
        }
        ssize_t len;
        while ((len = getline(&line, &cap, fp)) >= 0) {
            if (len && line[len - 1] == '\n')
                line[--len] = '\0';
            if (len == 0)
                continue;
            cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
            if (!cJSON_IsObject(j)) {
                c.unparsed++;
            } else if (count_record(&c, j, since) != 0) {
                fprintf(stderr, "filterctl: out of memory\n");
                status = EXIT_SOFTWARE;
            }
            cJSON_Delete(j);
            if (status)
                break;
        }
        if (ferror(fp)) {
            fprintf(stderr, "filterctl: %s: read error\n", files[f]);
            status = EXIT_SOFTWARE;
        }
        if (fp != stdin)
            fclose(fp);
    }
    free(line);
    if (!status) {
        entry **cats = table_sorted(&c.cats), **rules = table_sorted(&c.rules);
        if (!cats || !rules) {
            fprintf(stderr, "filterctl: out of memory\n");
            status = EXIT_SOFTWARE;
        } else {
            /* categories in taxonomy order (by id), rules most matched first */
            qsort(cats, c.cats.n, sizeof *cats, by_key);
            if (json)
                print_json(&c, cats, rules);
            else
                print_table(&c, n, cats, rules);
        }
        free(cats);
        free(rules);
    }
out:
    table_free(&c.cats);
    table_free(&c.rules);
    table_free(&c.names);
    return status;
}

/* argv[0] is "audit"; global options may sit anywhere after it. */
int filterctl_audit_main(int argc, char **argv)
{
    const char *action = NULL, *rules_dir = NULL;
    bool json = false, only_files = false;
    int64_t since = INT64_MIN;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0, status = EXIT_USAGE;
    if (!files)
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
            json = true;
        } else if (!only_files && (strcmp(a, "--since") == 0 || strcmp(a, "--rules") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "filterctl: %s needs a value\n", a);
                goto out;
            }
            const char *v = argv[++i];
            if (a[2] == 'r') {
                rules_dir = v;
            } else if (parse_time(v, &since) != 0) {
                fprintf(stderr,
                        "filterctl: --since: '%s' is not an RFC 3339 time "
                        "(e.g. 2026-11-01T00:00:00Z) or a date (2026-11-01)\n",
                        v);
                goto out;
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
            files[nfiles++] = argv[i];
        }
    }
    if (!action || (strcmp(action, "verify") != 0 && strcmp(action, "stats") != 0)) {
        if (action)
            fprintf(stderr, "filterctl: audit: unknown action '%s'\n", action);
        usage(stderr);
        goto out;
    }
    if (nfiles == 0) {
        fprintf(stderr, "filterctl: audit %s: no FILE given\n", action);
        usage(stderr);
        goto out;
    }
    if (action[0] == 'v') {
        if (since != INT64_MIN || json || rules_dir) {
            fprintf(stderr, "filterctl: audit verify takes only files\n");
            goto out;
        }
        status = cmd_verify(files, nfiles);
    } else {
        status = cmd_stats(files, nfiles, since, json, rules_dir);
    }
out:
    free(files);
    return status;
}
