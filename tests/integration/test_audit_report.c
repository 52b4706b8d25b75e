/*
 * test_audit_report.c — `filterctl audit report` (SPEC §4), driving the
 * real build/filterctl:
 *
 *   - its figures equal `audit stats --json` on the same files (the data
 *     set of audit_gen.h across plain and .gz files, and a log the real
 *     daemon wrote), with and without --since/--until; the figures only
 *     the report has (per day, rule sets, latency, api, chain) are checked
 *     against the data set's known values;
 *   - a tampered or truncated file shows as failed, naming its first bad
 *     line, while the other files stay intact;
 *   - the HTML is well-formed: `xmllint --noout` (libxml2's XML parser, a
 *     strict well-formedness check; the report is written as XHTML-style
 *     markup so that an XML parser accepts it) passes, also on hostile
 *     input (markup, control characters, invalid UTF-8 in the records),
 *     and it references nothing external (no src=, url(), link, script;
 *     every href is a #fragment);
 *   - a real browser renders it: when `chromium` is installed, headless
 *     Chromium takes a screenshot and the PNG (decoded here with zlib) is
 *     not blank: many distinct colours, and the chart's decision colours
 *     are on it.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_gen.h"
#include "harness.h"

static fdt_dataset ds;

/* Every test's data set is freed here too: a test that ends early (or
 * forgets) must not leave a LeakSanitizer report under make test-asan. */
static void report_teardown(void)
{
    fdt_dataset_free(&ds);
    fdt_teardown();
}

TestSuite(audit_report, .init = fdt_setup, .fini = report_teardown, .timeout = 120);

/* Run filterctl audit ACTION on FILES[0..n) plus ARGS; stdout parsed as
 * JSON into *J (when J is not NULL). Returns the exit status. */
static int run_audit(const char *action, char files[][4200], int n, const char *const *args,
                     cJSON **j, char **err)
{
    const char *argv[32];
    int k = 0;
    argv[k++] = "audit";
    argv[k++] = action;
    for (int i = 0; i < n; i++)
        argv[k++] = files[i];
    for (int i = 0; args[i]; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    char *out;
    int st = fdt_run(FILTERCTL_BIN, argv, NULL, &out, err);
    if (j) {
        *j = cJSON_Parse(out);
        cr_assert(cJSON_IsObject(*j), "audit %s: exit %d, not JSON: %s", action, st, out);
    }
    free(out);
    return st;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(v, "no \"%s\"", k);
    return v;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    cr_assert(cJSON_IsNumber(v), "\"%s\" is not a number", k);
    return v->valuedouble;
}

/* The figures both commands give must be equal, member by member. */
static void same_figures(const cJSON *stats, const cJSON *report)
{
    static const char *const keys[] = {"records", "unparsed",   "before_since", "first_ts",
                                       "last_ts", "ops",        "decisions",    "categories",
                                       "rules",   "after_until"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(stats, keys[i]);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(report, keys[i]);
        if (!a && strcmp(keys[i], "after_until") == 0)
            continue; /* stats prints it only with --until */
        if (strcmp(keys[i], "categories") == 0 && a && b) {
            /* the report adds the Chinese name; compare the rest */
            cJSON *bc = cJSON_Duplicate(b, 1);
            cJSON *e;
            cJSON_ArrayForEach(e, bc) cJSON_DeleteItemFromObject(e, "name_zh");
            char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(bc);
            cr_assert_str_eq(sa, sb, "categories differ");
            free(sa);
            free(sb);
            cJSON_Delete(bc);
            continue;
        }
        cr_assert(a && b, "\"%s\" missing in %s", keys[i], a ? "report" : "stats");
        char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
        cr_assert_str_eq(sa, sb, "\"%s\" differs", keys[i]);
        free(sa);
        free(sb);
    }
}

Test(audit_report, figures_equal_stats)
{
    fdt_dataset_write(&ds, fdt_d.dir);
    const char *ranges[][5] = {
        {NULL},
        {"--since", "2026-11-03", NULL},
        {"--since", "2026-11-02", "--until", "2026-11-05", NULL},
    };
    for (size_t r = 0; r < 3; r++) {
        const char *sargs[8], *rargs[8];
        int ks = 0, kr = 0;
        sargs[ks++] = rargs[kr++] = "--json";
        sargs[ks++] = rargs[kr++] = "--rules";
        sargs[ks++] = rargs[kr++] = fdt_d.rules;
        for (int i = 0; ranges[r][i]; i++)
            sargs[ks++] = rargs[kr++] = ranges[r][i];
        sargs[ks] = rargs[kr] = NULL;
        cJSON *st, *rep;
        cr_assert_eq(run_audit("stats", ds.files, 3, sargs, &st, NULL), 0);
        cr_assert_eq(run_audit("report", ds.files, 3, rargs, &rep, NULL), 0);
        same_figures(st, rep);
        if (r == 0) {
            cr_assert_eq(num(st, "records"), 8);
            cr_assert_eq(num(get(rep, "decisions"), "block"), 2);
        }
        cJSON_Delete(st);
        cJSON_Delete(rep);
    }

    /* what only the report has, against the data set's known values */
    const char *args[] = {"--json", "--rules", fdt_d.rules, NULL};
    cJSON *rep;
    cr_assert_eq(run_audit("report", ds.files, 3, args, &rep, NULL), 0);
    char *days = cJSON_PrintUnformatted(get(rep, "days"));
    cr_assert_str_eq(days, "[{\"date\":\"2026-11-01\",\"allow\":1,\"flag\":0,\"block\":1},"
                           "{\"date\":\"2026-11-02\",\"allow\":0,\"flag\":1,\"block\":0},"
                           "{\"date\":\"2026-11-03\",\"allow\":1,\"flag\":0,\"block\":1},"
                           "{\"date\":\"2026-11-04\",\"allow\":1,\"flag\":0,\"block\":0},"
                           "{\"date\":\"2026-11-05\",\"allow\":1,\"flag\":1,\"block\":0}]");
    free(days);
    char *sets = cJSON_PrintUnformatted(get(rep, "rule_sets"));
    cr_assert_str_eq(sets,
                     "[{\"rules\":\"" FDT_V1 "\",\"first_ts\":\"2026-11-01T10:00:00.000000Z\","
                     "\"last_ts\":\"2026-11-02T09:30:00.000000Z\",\"records\":3},"
                     "{\"rules\":\"" FDT_V2 "\",\"first_ts\":\"2026-11-03T00:00:00.000000Z\","
                     "\"last_ts\":\"2026-11-05T23:00:00.000000Z\",\"records\":5}]");
    free(sets);
    const cJSON *lat = get(rep, "latency_us");
    cr_assert_eq(num(lat, "records"), 8);
    cr_assert_eq(num(lat, "p50"), 40);
    cr_assert_eq(num(lat, "p90"), 1000);
    cr_assert_eq(num(lat, "max"), 1000);
    cr_assert_eq(num(lat, "mean"), 160);
    const cJSON *api = get(rep, "api");
    cr_assert_eq(num(api, "(unrecorded)"), 3);
    cr_assert_eq(num(api, "openai"), 2);
    cr_assert_eq(num(api, "http"), 1);
    cr_assert_eq(num(api, "proxy"), 1);
    cr_assert_eq(num(api, "ndjson"), 1);
    cr_assert_eq(num(get(rep, "ops"), "proxy"), 1);
    const cJSON *cat0 = cJSON_GetArrayItem(get(rep, "categories"), 0);
    cr_assert_str_eq(fdt_str(cat0, "category"), "A1.4");
    cr_assert_eq(num(cat0, "records"), 2);
    cr_assert_str_eq(fdt_str(cat0, "name_zh"), "宣扬恐怖主义、极端主义");
    cr_assert_str_eq(fdt_str(cat0, "name"), "Promoting terrorism or extremism");
    const cJSON *ch = get(rep, "chain");
    cr_assert_str_eq(fdt_str(ch, "result"), "intact");
    const cJSON *fs = get(ch, "files");
    cr_assert_eq(cJSON_GetArraySize(fs), 3);
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(fs, i), "result"), "intact");
    cr_assert_eq(num(cJSON_GetArrayItem(fs, 1), "lines"), 3); /* the .gz file */
    cr_assert(cJSON_IsTrue(get(cJSON_GetArrayItem(fs, 0), "starts_chain")));
    cJSON_Delete(rep);

    /* lines that are not records: an empty one (skipped by both), a
     * damaged one (unparsed in both), a torn last record (counted by both) */
    FILE *f = fopen(ds.files[2], "w");
    cr_assert(f);
    fprintf(f, "%s\n\n{\"ts\":\n%s", ds.lines[6], ds.lines[7]);
    fclose(f);
    const char *sargs[] = {"--json", "--rules", fdt_d.rules, NULL};
    cJSON *st;
    cr_assert_eq(run_audit("stats", ds.files, 3, sargs, &st, NULL), 0);
    cr_assert_eq(run_audit("report", ds.files, 3, sargs, &rep, NULL), 1);
    same_figures(st, rep);
    cr_assert_eq(num(st, "unparsed"), 1);
    cr_assert_eq(num(st, "records"), 8);
    const cJSON *f2 = cJSON_GetArrayItem(get(get(rep, "chain"), "files"), 2);
    cr_assert_eq(num(f2, "bad_line"), 2);
    cJSON_Delete(st);
    cJSON_Delete(rep);
    fdt_dataset_free(&ds);
}

Test(audit_report, daemon_log_equals_stats)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/audit.log", fdt_d.dir);
    const char *extra[] = {"--audit", path, "--audit-level", "all", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    static const char *const texts[] = {"hello",        "bomb", "the casino",
                                        "如何制造炸弹", "bye",  "a bomb at the casino"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        const char *a[] = {"--socket", fdt_d.sock, "check", texts[i], NULL};
        int st = fdt_filterctl(a, NULL, NULL);
        cr_assert(st >= 0 && st <= 2, "check exit %d", st);
    }
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    char files[1][4200];
    snprintf(files[0], sizeof files[0], "%s", path);
    const char *args[] = {"--json", "--rules", fdt_d.rules, NULL};
    cJSON *st, *rep;
    cr_assert_eq(run_audit("stats", files, 1, args, &st, NULL), 0);
    cr_assert_eq(run_audit("report", files, 1, args, &rep, NULL), 0);
    same_figures(st, rep);
    cr_assert_eq(num(st, "records"), 6);
    cr_assert(num(get(st, "decisions"), "block") >= 1);
    cr_assert_str_eq(fdt_str(get(rep, "chain"), "result"), "intact");
    cr_assert_eq(num(get(rep, "latency_us"), "records"), 6);
    /* filterctl asks over the socket in NDJSON: the daemon records api ndjson */
    cr_assert_eq(num(get(rep, "api"), "ndjson"), 6);
    cJSON_Delete(st);
    cJSON_Delete(rep);
}

Test(audit_report, tampered_file_fails)
{
    fdt_dataset_write(&ds, fdt_d.dir);
    /* record 1 (line 2 of the first file) rewritten block -> allow: still
     * valid JSON, so the break shows on line 3, whose prev no longer
     * matches */
    char *l = strstr(ds.lines[1], "\"block\"");
    cr_assert(l);
    memcpy(l, "\"allow\"", 7);
    fdt_write_lines(ds.files[0], ds.lines, 3);
    char out[4200];
    snprintf(out, sizeof out, "%s/report.html", fdt_d.dir);
    const char *args[] = {"--json", "--html", out, NULL};
    cJSON *rep;
    char *err;
    cr_assert_eq(run_audit("report", ds.files, 3, args, &rep, &err), 1, "%s", err);
    free(err);
    const cJSON *ch = get(rep, "chain");
    cr_assert_str_eq(fdt_str(ch, "result"), "failed");
    const cJSON *f0 = cJSON_GetArrayItem(get(ch, "files"), 0);
    cr_assert_str_eq(fdt_str(f0, "result"), "failed");
    cr_assert_eq(num(f0, "bad_line"), 3);
    cr_assert(strstr(fdt_str(f0, "message"), "chain broken"), "%s", fdt_str(f0, "message"));
    /* the files after it still chain to its (changed) last line: intact */
    for (int i = 1; i < 3; i++)
        cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(get(ch, "files"), i), "result"), "intact");
    /* the figures still count what is there */
    cr_assert_eq(num(get(rep, "decisions"), "allow"), 5);
    cJSON_Delete(rep);
    char *html = fdt_slurp(out, NULL);
    cr_assert(html && strstr(html, "FAILED</span> at line 3: chain broken"), "%s", html);
    free(html);

    /* a truncated .gz (the middle file): failed, unreadable from a line on */
    fdt_dataset_write(&ds, fdt_d.dir);
    size_t len;
    char *gz = fdt_slurp(ds.files[1], &len);
    cr_assert(gz && len > 30);
    FILE *f = fopen(ds.files[1], "w");
    fwrite(gz, 1, len / 2, f);
    fclose(f);
    free(gz);
    const char *jargs[] = {"--json", NULL};
    cr_assert_eq(run_audit("report", ds.files, 3, jargs, &rep, &err), 1);
    cr_assert(strstr(err, ds.files[1]), "%s", err);
    free(err);
    ch = get(rep, "chain");
    const cJSON *f1 = cJSON_GetArrayItem(get(ch, "files"), 1);
    cr_assert_str_eq(fdt_str(f1, "result"), "failed");
    cr_assert(strstr(fdt_str(f1, "message"), "unreadable"), "%s", fdt_str(f1, "message"));
    cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(get(ch, "files"), 0), "result"), "intact");
    cJSON_Delete(rep);
    fdt_dataset_free(&ds);
}

/* ---- the HTML ---- */

/* Fail if HTML refers to anything outside itself: every element is one
 * of the few the report uses (no script, link, img, iframe, object …),
 * no attribute loads anything (src, srcset, xlink:href, a non-#fragment
 * href, a style with url()), and the style sheet imports nothing. Text is
 * not a reference: a record's "<img src=x>" shows escaped, as text. */
static void self_contained(const char *html)
{
    static const char *const ok_tags[] = {
        "!doctype", "html", "head", "meta", "title", "style",   "body",  "h1",     "h2",
        "p",        "b",    "span", "nav",  "a",     "section", "table", "tr",     "th",
        "td",       "div",  "svg",  "rect", "line",  "text",    "g",     "footer", "code"};
    const char *style = NULL;
    for (const char *p = html; (p = strchr(p, '<')); p++) {
        const char *end = strchr(p, '>');
        cr_assert(end, "unterminated tag");
        const char *q = p + 1 + (p[1] == '/');
        size_t n = strcspn(q, " />\n");
        bool known = false;
        for (size_t i = 0; i < sizeof ok_tags / sizeof *ok_tags && !known; i++)
            known = strlen(ok_tags[i]) == n && strncasecmp(q, ok_tags[i], n) == 0;
        cr_assert(known, "unexpected element: %.*s", (int)(end - p + 1), p);
        if (strncmp(p, "<style>", 7) == 0)
            style = end + 1;
        if (strncmp(p, "</style>", 8) == 0) {
            char *css = strndup(style, (size_t)(p - style));
            cr_assert(!strstr(css, "url(") && !strstr(css, "@import"), "%s", css);
            free(css);
        }
        char *tag = strndup(p, (size_t)(end - p + 1));
        for (char *t = tag; *t; t++)
            *t = (char)tolower((unsigned char)*t);
        cr_assert(!strstr(tag, " src=") && !strstr(tag, "srcset") && !strstr(tag, "xlink") &&
                      !strstr(tag, "url(") && !strstr(tag, " on"),
                  "a loading attribute: %s", tag);
        for (const char *h = tag; (h = strstr(h, "href=")); h += 5)
            cr_assert(h[5] == '"' && h[6] == '#', "a link that is not a #fragment: %s", tag);
        free(tag);
        p = end;
    }
}

static void wellformed(const char *path)
{
    cr_assert(access("/usr/bin/xmllint", X_OK) == 0,
              "xmllint (Debian libxml2-utils) is needed: scripts/install-deps.sh");
    const char *args[] = {"--noout", "--nonet", path, NULL};
    char *err;
    int st = fdt_run("/usr/bin/xmllint", args, NULL, NULL, &err);
    cr_assert_eq(st, 0, "xmllint: %s", err);
    free(err);
}

Test(audit_report, html_wellformed_and_self_contained)
{
    fdt_dataset_write(&ds, fdt_d.dir);
    char out[4200];
    snprintf(out, sizeof out, "%s/report.html", fdt_d.dir);
    const char *args[] = {"--html", out, "--rules", fdt_d.rules, NULL};
    cr_assert_eq(run_audit("report", ds.files, 3, args, NULL, NULL), 0);
    wellformed(out);
    char *html = fdt_slurp(out, NULL);
    cr_assert(html);
    self_contained(html);
    /* every section, the names in both languages, a rule's source, the
     * rule sets, the per-file chain result, an inline SVG chart */
    static const char *const want[] = {"id=\"period\"",
                                       "id=\"totals\"",
                                       "id=\"days\"",
                                       "id=\"categories\"",
                                       "id=\"rules\"",
                                       "id=\"rulesets\"",
                                       "id=\"chain\"",
                                       "id=\"latency\"",
                                       "id=\"api\"",
                                       "宣扬恐怖主义、极端主义",
                                       "Promoting terrorism or extremism",
                                       "test.rules:10",
                                       FDT_V1,
                                       FDT_V2,
                                       "audit.log-2.gz",
                                       "<svg",
                                       "2026-11-05: allow 1 flag 1 block 0",
                                       "(not recorded)",
                                       "openai"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(strstr(html, want[i]), "no \"%s\" in the report", want[i]);
    free(html);
    fdt_dataset_free(&ds);

    /* hostile records: markup, quotes, control characters and invalid
     * UTF-8 in every string the report shows */
    char hostile[4200];
    snprintf(hostile, sizeof hostile, "%s/hostile.log", fdt_d.dir);
    FILE *f = fopen(hostile, "w");
    cr_assert(f);
    fputs("{\"ts\":\"2026-11-01T00:00:00Z\",\"seq\":1,\"op\":\"<b>\",\"api\":\"a&b<script>\","
          "\"id\":1,\"decision\":\"block\",\"matches\":[{\"rule\":\"<script>alert(1)</script>\","
          "\"category\":\"\\\"><img src=x>\",\"src\":\"x\\u0001\\u0000y\xff\xfe.rules:1\"}],"
          "\"rules\":\"]]>\xc3\x28<!--\",\"us\":5,\"prev\":\"" FDT_ZEROS "\"}\n"
          "not json at all \x01\x02 <html>\n",
          f);
    fclose(f);
    char files[1][4200];
    snprintf(files[0], sizeof files[0], "%s", hostile);
    cr_assert_eq(run_audit("report", files, 1, args, NULL, NULL), 1); /* line 2 breaks it */
    wellformed(out);
    html = fdt_slurp(out, NULL);
    self_contained(html);
    cr_assert(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    free(html);
}

/* ---- the browser ---- */

/* A decoded PNG's pixel statistics (8-bit RGB or RGBA, not interlaced). */
typedef struct png_info {
    unsigned w, h;
    size_t distinct;  /* distinct colours, counted up to 4096 */
    double not_white; /* share of pixels that are not (near) white */
    bool has[4];      /* the decision colours of the chart (within ±6) */
} png_info;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

static png_info png_decode(const char *path)
{
    static const unsigned char colours[4][3] = {
        {0x6a, 0x9f, 0x58}, {0xe8, 0xa3, 0x3d}, {0xc8, 0x44, 0x3a}, {0x54, 0x70, 0xa8}};
    png_info info = {0};
    size_t len;
    unsigned char *f = (unsigned char *)fdt_slurp(path, &len);
    cr_assert(f && len > 8 && memcmp(f, "\x89PNG\r\n\x1a\n", 8) == 0, "%s: not a PNG", path);
    unsigned char *idat = NULL;
    size_t ilen = 0;
    int depth = 0, type = 0, interlace = 0;
    for (size_t p = 8; p + 12 <= len;) {
        uint32_t n = be32(f + p);
        const unsigned char *t = f + p + 4, *d = f + p + 8;
        cr_assert(p + 12 + n <= len, "truncated PNG chunk");
        if (memcmp(t, "IHDR", 4) == 0) {
            info.w = be32(d);
            info.h = be32(d + 4);
            depth = d[8];
            type = d[9];
            interlace = d[12];
        } else if (memcmp(t, "IDAT", 4) == 0) {
            idat = realloc(idat, ilen + n);
            cr_assert(idat);
            memcpy(idat + ilen, d, n);
            ilen += n;
        } else if (memcmp(t, "IEND", 4) == 0) {
            break;
        }
        p += 12 + n;
    }
    cr_assert(depth == 8 && (type == 2 || type == 6) && !interlace,
              "unexpected PNG format: depth %d type %d interlace %d", depth, type, interlace);
    size_t bpp = type == 6 ? 4 : 3, stride = info.w * bpp;
    uLongf rawlen = (uLongf)((stride + 1) * info.h);
    unsigned char *raw = malloc(rawlen);
    cr_assert(raw && uncompress(raw, &rawlen, idat, (uLong)ilen) == Z_OK &&
              rawlen == (stride + 1) * info.h);
    uint32_t *set = calloc(8192, sizeof *set); /* colour + 1; 0 = empty */
    size_t white = 0;
    for (unsigned y = 0; y < info.h; y++) {
        unsigned char *row = raw + y * (stride + 1), *px = row + 1;
        unsigned char *up = y ? raw + (y - 1) * (stride + 1) + 1 : NULL;
        for (size_t i = 0; i < stride; i++) {
            int a = i >= bpp ? px[i - bpp] : 0, b = up ? up[i] : 0,
                c = up && i >= bpp ? up[i - bpp] : 0;
            switch (row[0]) {
            case 1:
                px[i] = (unsigned char)(px[i] + a);
                break;
            case 2:
                px[i] = (unsigned char)(px[i] + b);
                break;
            case 3:
                px[i] = (unsigned char)(px[i] + (a + b) / 2);
                break;
            case 4:
                px[i] = (unsigned char)(px[i] + paeth(a, b, c));
                break;
            default:
                break;
            }
        }
        for (unsigned x = 0; x < info.w; x++) {
            const unsigned char *q = px + x * bpp;
            if (q[0] > 245 && q[1] > 245 && q[2] > 245)
                white++;
            for (int k = 0; k < 4; k++)
                if (abs(q[0] - colours[k][0]) <= 6 && abs(q[1] - colours[k][1]) <= 6 &&
                    abs(q[2] - colours[k][2]) <= 6)
                    info.has[k] = true;
            uint32_t v = ((uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2]) + 1;
            if (info.distinct < 4096) {
                size_t h = (v * 2654435761u) & 8191;
                while (set[h] && set[h] != v)
                    h = (h + 1) & 8191;
                if (!set[h]) {
                    set[h] = v;
                    info.distinct++;
                }
            }
        }
    }
    info.not_white = 1.0 - (double)white / ((double)info.w * info.h);
    free(set);
    free(raw);
    free(idat);
    free(f);
    return info;
}

Test(audit_report, chromium_screenshot_not_blank)
{
    const char *chromium = NULL;
    static const char *const where[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
    for (size_t i = 0; i < 2 && !chromium; i++)
        if (access(where[i], X_OK) == 0)
            chromium = where[i];
    if (!chromium || access("/usr/bin/timeout", X_OK) != 0)
        cr_skip_test("chromium is not installed (scripts/install-deps.sh installs it)");
    fdt_dataset_write(&ds, fdt_d.dir);
    char out[4200], png[4200], url[4300], profile[4200];
    snprintf(out, sizeof out, "%s/report.html", fdt_d.dir);
    snprintf(png, sizeof png, "%s/report.png", fdt_d.dir);
    snprintf(url, sizeof url, "file://%s", out);
    snprintf(profile, sizeof profile, "--user-data-dir=%s/chromium", fdt_d.dir);
    char shot[4300];
    snprintf(shot, sizeof shot, "--screenshot=%s", png);
    const char *args[] = {"--rules", fdt_d.rules, "--html", out, NULL};
    cr_assert_eq(run_audit("report", ds.files, 3, args, NULL, NULL), 0);
    /* bounded: a wedged browser fails the test instead of hanging it */
    const char *cargs[] = {"-k",
                           "10",
                           "100",
                           chromium,
                           "--headless",
                           "--no-sandbox",
                           "--disable-gpu",
                           "--disable-dev-shm-usage",
                           "--no-first-run",
                           "--hide-scrollbars",
                           "--disable-extensions",
                           "--disable-background-networking",
                           profile,
                           "--window-size=1100,1400",
                           shot,
                           url,
                           NULL};
    char *err;
    int st = fdt_run("/usr/bin/timeout", cargs, NULL, NULL, &err);
    cr_assert_eq(st, 0, "chromium exit %d: %s", st, err);
    free(err);
    png_info pi = png_decode(png);
    cr_assert(pi.w == 1100 && pi.h == 1400, "%ux%u", pi.w, pi.h);
    /* not blank: text, tables and the charts give many colours and cover
     * a good part of the page; the chart's allow, flag and block bars are
     * there */
    cr_assert(pi.distinct >= 32, "only %zu distinct colours", pi.distinct);
    cr_assert(pi.not_white > 0.03, "%.3f of the pixels are not white", pi.not_white);
    cr_assert(pi.has[0] && pi.has[1] && pi.has[2], "decision colours missing: %d %d %d", pi.has[0],
              pi.has[1], pi.has[2]);
    fdt_dataset_free(&ds);
}
