/*
 * audit_report.c — `filterctl audit report FILE... [--html OUT] [--json]
 * [--rules DIR] [--since T] [--until T]` (SPEC §4): the figures of a
 * compliance review in one pass over the files.
 *
 * One pass, bounded memory: every line is read once (plain or .gz),
 * hashed for the chain check and parsed once; what is kept is a fixed set
 * of counters (fa_stats, the same code as `audit stats`, so both give the
 * same figures), a count per UTC day, per rule, per category, per rule-set
 * version and per api, and a latency histogram with fixed buckets (about
 * 3 % wide) instead of the values. None of these grows with the number of
 * records: they grow with days covered, rules, rule sets and apis, and
 * the last three have caps (a hostile file with a million distinct values
 * fills "(other)" instead of memory).
 *
 * The chain is checked per file, as `audit verify` checks it, but without
 * stopping: every file is checked against the last line of the file before
 * it, and each file's result (intact, or its first bad line) is reported.
 * Time filters do not apply to the chain: it is about the files.
 *
 * The HTML is one self-contained, well-formed (XML-parsable) file: inline
 * CSS, inline SVG charts drawn here, no script, no external reference.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_common.h"
#include "filterctl.h"
#include "hash.h"

#ifndef FILTERD_SOURCE_RULES
#define FILTERD_SOURCE_RULES "rules"
#endif
#ifndef FILTERD_INSTALL_RULES
#define FILTERD_INSTALL_RULES "/usr/local/share/filterd/rules"
#endif

#define MAX_DAYS     200000 /* distinct days kept (548 years); later ones go uncharted */
#define MAX_RULESETS 10000
#define MAX_APIS     64
#define MAX_BARS     370 /* more days than this: one bar per several days */
#define TOP_RULES    25  /* in the HTML; --json has them all */
#define DAY_US       86400000000LL

static const char *const zeros = "0000000000000000000000000000000000000000000000000000000000000000";

/* ---- latency histogram ---- */

/* Values below 64 µs have a bucket each; above, 32 buckets per power of
 * two (a bucket spans at most 1/32 of its values: ±3 %). */
#define LAT_SUB     32
#define LAT_BUCKETS (64 + 58 * LAT_SUB)

static int lat_bucket(uint64_t v)
{
    if (v < 64)
        return (int)v;
    int e = 63 - __builtin_clzll(v); /* 6..63 */
    return 64 + (e - 6) * LAT_SUB + (int)((v >> (e - 5)) & (LAT_SUB - 1));
}

/* The largest value of bucket B. */
static uint64_t lat_upper(int b)
{
    if (b < 64)
        return (uint64_t)b;
    int e = (b - 64) / LAT_SUB + 6, sub = (b - 64) % LAT_SUB;
    uint64_t lo = (uint64_t)(LAT_SUB + sub) << (e - 5);
    return lo + (1ull << (e - 5)) - 1;
}

/* ---- the report's state ---- */

typedef struct file_result {
    const char *path;
    uint64_t lines, records; /* lines read; records counted (in the range) */
    bool ok;                 /* no bad line so far */
    bool new_chain;          /* its first line starts a chain (prev = zeros) */
    uint64_t bad_line;
    char msg[200];
    int64_t first_us, last_us; /* ts of its first and last record (any range) */
} file_result;

typedef struct report {
    const fa_opts *o;
    fa_stats st;
    fa_table names;    /* category -> Chinese (category), English (src) */
    fa_table days;     /* "YYYY-MM-DD" -> n[decision]; first_us = the day's start */
    fa_table rulesets; /* version -> count, first_us, last_us */
    fa_table apis;     /* api -> count */
    uint64_t days_dropped, rulesets_other, apis_other, no_api, no_rules;
    uint64_t lat[LAT_BUCKETS], lat_n, lat_max;
    long double lat_sum;
    file_result *files;
    /* chain state across files */
    char prev[65]; /* hash of the last line read */
    double last_seq;
    bool have_prev, have_seq;
    /* caches: records come in time order, so the day and rule set rarely change */
    int64_t cached_day;
    fa_entry *day_e;
    fa_entry *ruleset_e;
    const char *names_dir;
    char generated[40];
} report;

/* ---- reading ---- */

static void file_bad(file_result *fr, uint64_t line, const char *msg)
{
    if (!fr->ok)
        return;
    fr->ok = false;
    fr->bad_line = line;
    snprintf(fr->msg, sizeof fr->msg, "%s", msg);
}

/* Check line LINE of FR against the chain; J is its parse (may be NULL). */
static void chain_line(report *r, file_result *fr, const fa_reader *rd, const cJSON *j)
{
    char msg[200];
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(j, "prev");
    if (rd->torn) {
        file_bad(fr, rd->lineno, "torn last line (no newline): a write cut short by a crash");
    } else if (rd->too_long) {
        file_bad(fr, rd->lineno, "line too long to be a record");
    } else if (!cJSON_IsObject(j)) {
        file_bad(fr, rd->lineno, "not a JSON object");
    } else if (!cJSON_IsNumber(seq)) {
        file_bad(fr, rd->lineno, "no numeric \"seq\"");
    } else if (!cJSON_IsString(pv) || strlen(pv->valuestring) != 64 ||
               strspn(pv->valuestring, "0123456789abcdef") != 64) {
        file_bad(fr, rd->lineno, "no \"prev\" of 64 lowercase hex digits");
    } else {
        if (rd->lineno == 1 && strcmp(pv->valuestring, zeros) == 0)
            fr->new_chain = true;
        if (r->have_seq && seq->valuedouble <= r->last_seq) {
            snprintf(msg, sizeof msg, "seq %.0f does not follow %.0f", seq->valuedouble,
                     r->last_seq);
            file_bad(fr, rd->lineno, msg);
        } else if (r->have_prev && strcmp(pv->valuestring, r->prev) != 0) {
            snprintf(msg, sizeof msg,
                     "chain broken: prev is not the SHA-256 of the line before (%s)",
                     strcmp(pv->valuestring, zeros) == 0 ? "a new chain starts here"
                                                         : "changed, deleted or moved lines");
            file_bad(fr, rd->lineno, msg);
        }
    }
    /* the next line is checked against this one, good or bad, so one bad
     * line is reported once, not as a cascade */
    if (cJSON_IsNumber(seq)) {
        r->last_seq = seq->valuedouble;
        r->have_seq = true;
    }
    if (fd_sha256_hex(rd->line, rd->len, r->prev) == 0)
        r->have_prev = true;
}

static int oom(void)
{
    fprintf(stderr, "filterctl: out of memory\n");
    return -1;
}

/* Count the extras of a counted record: day, rule set, api, latency. */
static int count_extras(report *r, const cJSON *j, int64_t t, int di)
{
    if (t != FA_NO_TIME) {
        int64_t day = t >= 0 ? t / DAY_US : -((-t + DAY_US - 1) / DAY_US);
        if (!r->day_e || day != r->cached_day) {
            char key[32];
            fa_format_time(day * DAY_US, key, sizeof key);
            key[10] = '\0';
            fa_entry *e = fa_table_find(&r->days, key);
            if (!e && r->days.n < MAX_DAYS) {
                e = fa_table_get(&r->days, key);
                if (!e)
                    return oom();
                e->first_us = day * DAY_US;
            }
            r->day_e = e;
            r->cached_day = day;
        }
        if (r->day_e)
            r->day_e->n[di]++;
        else
            r->days_dropped++;
    }
    const char *rs = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "rules"));
    if (!rs) {
        r->no_rules++;
    } else {
        fa_entry *e = r->ruleset_e;
        if (!e || strcmp(e->key, rs) != 0) {
            e = fa_table_find(&r->rulesets, rs);
            if (!e && r->rulesets.n < MAX_RULESETS) {
                e = fa_table_get(&r->rulesets, rs);
                if (!e)
                    return oom();
            }
            r->ruleset_e = e;
        }
        if (!e) {
            r->rulesets_other++;
        } else {
            e->count++;
            if (t != FA_NO_TIME) {
                if (e->first_us == FA_NO_TIME || t < e->first_us)
                    e->first_us = t;
                if (e->last_us == FA_NO_TIME || t > e->last_us)
                    e->last_us = t;
            }
        }
    }
    const cJSON *api = cJSON_GetObjectItemCaseSensitive(j, "api");
    if (!cJSON_IsString(api)) {
        r->no_api++;
    } else {
        fa_entry *e = fa_table_find(&r->apis, api->valuestring);
        if (!e && r->apis.n < MAX_APIS && !(e = fa_table_get(&r->apis, api->valuestring)))
            return oom();
        if (e)
            e->count++;
        else
            r->apis_other++;
    }
    const cJSON *us = cJSON_GetObjectItemCaseSensitive(j, "us");
    if (cJSON_IsNumber(us) && us->valuedouble >= 0 && us->valuedouble < 1.8e19) {
        uint64_t v = (uint64_t)us->valuedouble;
        r->lat[lat_bucket(v)]++;
        r->lat_n++;
        r->lat_sum += v;
        if (v > r->lat_max)
            r->lat_max = v;
    }
    return 0;
}

/* Read every file; 0, or -1 on a fatal error (out of memory, unopenable
 * file: printed). */
static int read_files(report *r)
{
    const fa_opts *o = r->o;
    for (int f = 0; f < o->nfiles; f++) {
        file_result *fr = &r->files[f];
        fr->path = o->files[f];
        fr->ok = true;
        fr->first_us = fr->last_us = FA_NO_TIME;
        fa_reader rd;
        if (fa_reader_open(&rd, fr->path) != 0) {
            fprintf(stderr, "filterctl: %s: %s\n", fr->path, strerror(errno));
            return -1;
        }
        int rc;
        while ((rc = fa_reader_next(&rd)) > 0) {
            fr->lines++;
            cJSON *j = rd.too_long ? NULL : cJSON_ParseWithLength(rd.line, rd.len);
            chain_line(r, fr, &rd, j);
            if (!cJSON_IsObject(j)) {
                /* an empty line breaks the chain but is no record to
                 * count, as for `audit stats` */
                if (rd.len > 0)
                    r->st.unparsed++;
                cJSON_Delete(j);
                continue;
            }
            int64_t t;
            int di;
            int counted = fa_stats_add(&r->st, j, &t, &di);
            if (t != FA_NO_TIME) {
                if (fr->first_us == FA_NO_TIME)
                    fr->first_us = t;
                fr->last_us = t;
            }
            if (counted > 0) {
                fr->records++;
                counted = count_extras(r, j, t, di);
            }
            cJSON_Delete(j);
            if (counted < 0) {
                fa_reader_close(&rd);
                return oom();
            }
        }
        if (rc < 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "unreadable from here: %s", rd.err);
            file_bad(fr, rd.lineno + 1, msg);
            fprintf(stderr, "filterctl: %s:%llu: %s\n", fr->path, (unsigned long long)rd.lineno + 1,
                    rd.err);
        }
        fa_reader_close(&rd);
    }
    return 0;
}

/* ---- derived figures ---- */

typedef struct bar {
    int64_t start_us; /* first day of the bar */
    uint64_t n[FA_NDEC];
} bar;

typedef struct figures {
    fa_entry **cats, **rules, **rulesets, **apis, **days;
    bar *bars;
    size_t nbars;
    int days_per_bar;
    int64_t first_day_us, last_day_us;
    uint64_t p[5]; /* p50 p90 p99 p99.9 max */
    bool chain_ok;
} figures;

static const double pct_q[4] = {0.50, 0.90, 0.99, 0.999};
static const char *const pct_names[5] = {"p50", "p90", "p99", "p99.9", "max"};

static int by_first_seen(const void *a, const void *b)
{
    const fa_entry *x = *(fa_entry *const *)a, *y = *(fa_entry *const *)b;
    if (x->first_us != y->first_us)
        return x->first_us < y->first_us ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int figures_make(report *r, figures *g)
{
    memset(g, 0, sizeof *g);
    g->cats = fa_table_sorted(&r->st.cats, fa_by_key);
    g->rules = fa_table_sorted(&r->st.rules, fa_by_count);
    g->rulesets = fa_table_sorted(&r->rulesets, by_first_seen);
    g->apis = fa_table_sorted(&r->apis, fa_by_count);
    g->days = fa_table_sorted(&r->days, fa_by_key); /* ISO dates sort by time */
    if (!g->cats || !g->rules || !g->rulesets || !g->apis || !g->days)
        return oom();
    g->chain_ok = true;
    for (int f = 0; f < r->o->nfiles; f++)
        g->chain_ok = g->chain_ok && r->files[f].ok;
    if (r->days.n) {
        g->first_day_us = g->days[0]->first_us;
        g->last_day_us = g->days[r->days.n - 1]->first_us;
        int64_t ndays = (g->last_day_us - g->first_day_us) / DAY_US + 1;
        g->days_per_bar = (int)((ndays + MAX_BARS - 1) / MAX_BARS);
        g->nbars = (size_t)((ndays + g->days_per_bar - 1) / g->days_per_bar);
        g->bars = calloc(g->nbars, sizeof *g->bars);
        if (!g->bars)
            return oom();
        for (size_t i = 0; i < g->nbars; i++)
            g->bars[i].start_us = g->first_day_us + (int64_t)i * g->days_per_bar * DAY_US;
        for (size_t i = 0; i < r->days.n; i++) {
            size_t b =
                (size_t)((g->days[i]->first_us - g->first_day_us) / DAY_US / g->days_per_bar);
            for (int d = 0; d < FA_NDEC; d++)
                g->bars[b].n[d] += g->days[i]->n[d];
        }
    }
    uint64_t cum = 0;
    int q = 0;
    for (int b = 0; b < LAT_BUCKETS && q < 4 && r->lat_n; b++) {
        cum += r->lat[b];
        while (q < 4 && cum >= (uint64_t)ceil(pct_q[q] * (double)r->lat_n)) {
            uint64_t v = lat_upper(b);
            g->p[q++] = v < r->lat_max ? v : r->lat_max;
        }
    }
    g->p[4] = r->lat_max;
    return 0;
}

static void figures_free(figures *g)
{
    free(g->cats);
    free(g->rules);
    free(g->rulesets);
    free(g->apis);
    free(g->days);
    free(g->bars);
}

static void fmt_time(int64_t us, char *buf, size_t n)
{
    if (us == FA_NO_TIME)
        snprintf(buf, n, "-");
    else
        fa_format_time(us, buf, n);
}

/* ---- JSON ---- */

static void json_time(cJSON *o, const char *k, int64_t us)
{
    if (us == FA_NO_TIME)
        return;
    char b[40];
    fa_format_time(us, b, sizeof b);
    cJSON_AddStringToObject(o, k, b);
}

static char *report_json(report *r, figures *g)
{
    const fa_stats *c = &r->st;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "generated", r->generated);
    json_time(o, "since", r->o->since);
    json_time(o, "until", r->o->until);
    cJSON_AddNumberToObject(o, "records", (double)c->records);
    cJSON_AddNumberToObject(o, "unparsed", (double)c->unparsed);
    cJSON_AddNumberToObject(o, "before_since", (double)c->before_since);
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
    cJSON *days = cJSON_AddArrayToObject(o, "days");
    for (size_t i = 0; i < r->days.n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "date", g->days[i]->key);
        for (int d = 0; d < FA_NDEC; d++)
            if (d < FA_OTHER || g->days[i]->n[d])
                cJSON_AddNumberToObject(e, fa_decision_names[d], (double)g->days[i]->n[d]);
        cJSON_AddItemToArray(days, e);
    }
    if (r->days_dropped)
        cJSON_AddNumberToObject(o, "days_dropped_records", (double)r->days_dropped);
    cJSON *cs = cJSON_AddArrayToObject(o, "categories");
    for (size_t i = 0; i < c->cats.n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "category", g->cats[i]->key);
        const fa_entry *nm = fa_table_find(&r->names, g->cats[i]->key);
        if (nm && nm->src)
            cJSON_AddStringToObject(e, "name", nm->src);
        if (nm && nm->category)
            cJSON_AddStringToObject(e, "name_zh", nm->category);
        cJSON_AddNumberToObject(e, "records", (double)g->cats[i]->count);
        cJSON_AddItemToArray(cs, e);
    }
    cJSON *rs = cJSON_AddArrayToObject(o, "rules");
    for (size_t i = 0; i < c->rules.n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "rule", g->rules[i]->key);
        if (g->rules[i]->category)
            cJSON_AddStringToObject(e, "category", g->rules[i]->category);
        if (g->rules[i]->src)
            cJSON_AddStringToObject(e, "src", g->rules[i]->src);
        cJSON_AddNumberToObject(e, "matches", (double)g->rules[i]->count);
        cJSON_AddItemToArray(rs, e);
    }
    if (c->cats_other)
        cJSON_AddNumberToObject(o, "categories_other", (double)c->cats_other);
    if (c->rules_other)
        cJSON_AddNumberToObject(o, "rules_other", (double)c->rules_other);
    cJSON *vs = cJSON_AddArrayToObject(o, "rule_sets");
    for (size_t i = 0; i < r->rulesets.n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "rules", g->rulesets[i]->key);
        json_time(e, "first_ts", g->rulesets[i]->first_us);
        json_time(e, "last_ts", g->rulesets[i]->last_us);
        cJSON_AddNumberToObject(e, "records", (double)g->rulesets[i]->count);
        cJSON_AddItemToArray(vs, e);
    }
    if (r->rulesets_other)
        cJSON_AddNumberToObject(o, "rule_sets_other_records", (double)r->rulesets_other);
    if (r->no_rules)
        cJSON_AddNumberToObject(o, "rule_sets_unrecorded", (double)r->no_rules);
    cJSON *ch = cJSON_AddObjectToObject(o, "chain");
    cJSON_AddStringToObject(ch, "result", g->chain_ok ? "intact" : "failed");
    cJSON *fs = cJSON_AddArrayToObject(ch, "files");
    for (int f = 0; f < r->o->nfiles; f++) {
        const file_result *fr = &r->files[f];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "file", fr->path);
        cJSON_AddNumberToObject(e, "lines", (double)fr->lines);
        cJSON_AddNumberToObject(e, "records", (double)fr->records);
        json_time(e, "first_ts", fr->first_us);
        json_time(e, "last_ts", fr->last_us);
        cJSON_AddBoolToObject(e, "starts_chain", fr->new_chain);
        cJSON_AddStringToObject(e, "result", fr->ok ? "intact" : "failed");
        if (!fr->ok) {
            cJSON_AddNumberToObject(e, "bad_line", (double)fr->bad_line);
            cJSON_AddStringToObject(e, "message", fr->msg);
        }
        cJSON_AddItemToArray(fs, e);
    }
    cJSON *lat = cJSON_AddObjectToObject(o, "latency_us");
    cJSON_AddNumberToObject(lat, "records", (double)r->lat_n);
    if (r->lat_n) {
        for (int i = 0; i < 5; i++)
            cJSON_AddNumberToObject(lat, pct_names[i], (double)g->p[i]);
        cJSON_AddNumberToObject(lat, "mean", round((double)(r->lat_sum / r->lat_n) * 10) / 10);
    }
    cJSON *api = cJSON_AddObjectToObject(o, "api");
    for (size_t i = 0; i < r->apis.n; i++)
        cJSON_AddNumberToObject(api, g->apis[i]->key, (double)g->apis[i]->count);
    if (r->apis_other)
        cJSON_AddNumberToObject(api, "(other)", (double)r->apis_other);
    if (r->no_api)
        cJSON_AddNumberToObject(api, "(unrecorded)", (double)r->no_api);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* ---- HTML ---- */

static const char *const dec_colour[FA_NDEC] = {"#6a9f58", "#e8a33d", "#c8443a", "#8c8c8c"};

static const char css[] =
    "body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK SC',"
    "'Microsoft YaHei',sans-serif;color:#222;background:#fff;margin:0 auto;max-width:1040px;"
    "padding:24px}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px "
    "solid #ddd;padding-bottom:4px}"
    ".sub{color:#555;margin:0 0 12px}nav a{margin-right:12px;color:#2a5db0}"
    "table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 10px;text-align:left;"
    "border-bottom:1px solid #eee;vertical-align:top}th{background:#f4f4f4}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;"
    "padding:10px 16px;min-width:120px}.card b{display:block;font-size:22px}"
    ".ok{color:#2d7a2d;font-weight:bold}.bad{color:#b02a2a;font-weight:bold}"
    ".mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}"
    "td.t{white-space:nowrap}"
    ".note{color:#555;font-size:13px}svg text{font-size:11px;fill:#333}";

static void esc(FILE *f, const char *s)
{
    fa_html_escape(f, s ? s : "");
}

static void card(FILE *f, const char *label, uint64_t v, const char *colour)
{
    fprintf(f, "<div class=\"card\"><span>%s</span><b style=\"color:%s\">%llu</b></div>", label,
            colour, (unsigned long long)v);
}

/* An inline bar for a table cell: V of MAX, WIDTH pixels at most. */
static void cell_bar(FILE *f, uint64_t v, uint64_t max, const char *colour)
{
    double w = max ? 200.0 * (double)v / (double)max : 0;
    fprintf(f,
            "<td><svg width=\"202\" height=\"12\" role=\"img\"><rect x=\"0\" y=\"1\" "
            "width=\"%.1f\" height=\"10\" fill=\"%s\"/></svg></td>",
            w < 1 && v ? 1.0 : w, colour);
}

/* A step of 1, 2 or 5 times a power of ten, at least 1, that divides the
 * axis up to V into at most about five steps (counts: whole numbers). */
static double nice_step(double v)
{
    double raw = v / 5 > 1 ? v / 5 : 1;
    double p = pow(10, floor(log10(raw)));
    static const double m[3] = {1, 2, 5};
    for (int i = 0; i < 3; i++)
        if (m[i] * p >= raw)
            return m[i] * p;
    return 10 * p;
}

/* The stacked bar chart of decisions per day (MASK: which decisions). */
static void day_chart(FILE *f, const figures *g, unsigned mask, const char *label)
{
    const double W = 980, H = 260, L = 64, R = 12, T = 12, B = 40;
    double pw = W - L - R, ph = H - T - B;
    uint64_t top = 0;
    for (size_t i = 0; i < g->nbars; i++) {
        uint64_t s = 0;
        for (int d = 0; d < FA_NDEC; d++)
            if (mask & (1u << d))
                s += g->bars[i].n[d];
        if (s > top)
            top = s;
    }
    double step = nice_step((double)top);
    int nticks = (int)ceil((double)top / step);
    if (nticks < 1)
        nticks = 1;
    double ymax = step * nticks;
    fprintf(f, "<svg width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">", W, H,
            W, H);
    fprintf(f, "<title>");
    esc(f, label);
    fprintf(f, "</title>");
    for (int k = 0; k <= nticks; k++) {
        double y = T + ph - ph * k / (double)nticks;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>",
                L, y, L + pw, y, L - 6, y + 4, step * k);
    }
    double bw = g->nbars ? pw / (double)g->nbars : pw;
    if (bw > 48) /* a few days: bars of a readable width, not the whole plot */
        bw = 48;
    double gap = bw > 4 ? bw * 0.15 : 0;
    for (size_t i = 0; i < g->nbars; i++) {
        char d0[40], d1[40];
        fa_format_time(g->bars[i].start_us, d0, sizeof d0);
        fa_format_time(g->bars[i].start_us + (int64_t)(g->days_per_bar - 1) * DAY_US, d1,
                       sizeof d1);
        d0[10] = d1[10] = '\0';
        double x = L + bw * (double)i + gap / 2, y = T + ph;
        fprintf(f, "<g><title>%s%s%s:", d0, g->days_per_bar > 1 ? " .. " : "",
                g->days_per_bar > 1 ? d1 : "");
        for (int d = 0; d < FA_NDEC; d++)
            if ((mask & (1u << d)) && (d < FA_OTHER || g->bars[i].n[d]))
                fprintf(f, " %s %llu", fa_decision_names[d], (unsigned long long)g->bars[i].n[d]);
        fprintf(f, "</title>");
        for (int d = 0; d < FA_NDEC; d++) {
            if (!(mask & (1u << d)) || !g->bars[i].n[d])
                continue;
            double h = ph * (double)g->bars[i].n[d] / ymax;
            y -= h;
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>",
                    x, y, bw - gap > 0.5 ? bw - gap : 0.5, h, dec_colour[d]);
        }
        fprintf(f, "</g>");
    }
    /* date labels: about six, at bar starts */
    size_t lstep = g->nbars > 6 ? (g->nbars + 5) / 6 : 1;
    for (size_t i = 0; i < g->nbars; i += lstep) {
        char d0[40];
        fa_format_time(g->bars[i].start_us, d0, sizeof d0);
        d0[10] = '\0';
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>", L + bw * (double)i, T + ph + 16, d0);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>", L, T + ph,
            L + pw, T + ph);
    /* legend */
    double lx = L;
    for (int d = 0; d < FA_NDEC; d++) {
        if (!(mask & (1u << d)))
            continue;
        fprintf(f,
                "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%.0f\">%s</text>",
                lx, H - 12, dec_colour[d], lx + 14, H - 3, fa_decision_names[d]);
        lx += 70;
    }
    fprintf(f, "</svg>\n");
}

static void html_head(FILE *f, report *r, figures *g)
{
    const fa_stats *c = &r->st;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
               "<meta name=\"viewport\" content=\"width=device-width\"/>\n"
               "<title>filterd audit report ");
    esc(f, c->first_ts[0] ? c->first_ts : "(no records)");
    fprintf(f, " .. ");
    esc(f, c->last_ts);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
    fprintf(f, "<h1>filterd audit report</h1>\n<p class=\"sub\">");
    if (c->first_ts[0]) {
        fprintf(f, "Records from <b>");
        esc(f, c->first_ts);
        fprintf(f, "</b> to <b>");
        esc(f, c->last_ts);
        fprintf(f, "</b>");
    } else {
        fprintf(f, "No records in the period");
    }
    fprintf(f, " &#183; chain %s &#183; generated %s by filterctl audit report</p>\n",
            g->chain_ok ? "<span class=\"ok\">intact</span>" : "<span class=\"bad\">FAILED</span>",
            r->generated);
    fprintf(f, "<nav><a href=\"#period\">Period</a><a href=\"#totals\">Decisions</a>"
               "<a href=\"#days\">Per day</a><a href=\"#categories\">Categories</a>"
               "<a href=\"#rules\">Rules</a><a href=\"#rulesets\">Rule sets</a>"
               "<a href=\"#chain\">Chain</a><a href=\"#latency\">Latency</a>"
               "<a href=\"#api\">Interfaces</a></nav>\n");
}

static void html_period(FILE *f, report *r)
{
    const fa_stats *c = &r->st;
    char b[40];
    fprintf(f, "<section id=\"period\"><h2>1. Period</h2>\n<table>\n");
    fprintf(f, "<tr><th>first record</th><td>");
    esc(f, c->first_ts[0] ? c->first_ts : "-");
    fprintf(f, "</td></tr>\n<tr><th>last record</th><td>");
    esc(f, c->last_ts[0] ? c->last_ts : "-");
    fprintf(f, "</td></tr>\n");
    fmt_time(r->o->since, b, sizeof b);
    fprintf(f, "<tr><th>--since (inclusive)</th><td>%s</td></tr>\n",
            r->o->since == FA_NO_TIME ? "(not given)" : b);
    fmt_time(r->o->until, b, sizeof b);
    fprintf(f, "<tr><th>--until (exclusive)</th><td>%s</td></tr>\n",
            r->o->until == FA_NO_TIME ? "(not given)" : b);
    fprintf(f,
            "<tr><th>records counted</th><td class=\"n\">%llu</td></tr>\n"
            "<tr><th>left out: before --since</th><td class=\"n\">%llu</td></tr>\n"
            "<tr><th>left out: at or after --until</th><td class=\"n\">%llu</td></tr>\n"
            "<tr><th>lines that are not records</th><td class=\"n\">%llu</td></tr>\n"
            "<tr><th>files</th><td class=\"n\">%d</td></tr>\n</table>\n",
            (unsigned long long)c->records, (unsigned long long)c->before_since,
            (unsigned long long)c->after_until, (unsigned long long)c->unparsed, r->o->nfiles);
    fprintf(f, "<p class=\"note\">Days are UTC days. Files in the order given (oldest "
               "first).</p></section>\n");
}

static void html_totals(FILE *f, report *r)
{
    const fa_stats *c = &r->st;
    fprintf(f, "<section id=\"totals\"><h2>2. Decisions</h2>\n<div class=\"cards\">");
    card(f, "records", c->records, "#222");
    for (int d = 0; d < FA_NDEC; d++)
        if (d < FA_OTHER || c->decisions[d])
            card(f, fa_decision_names[d], c->decisions[d], dec_colour[d]);
    fprintf(f,
            "</div>\n<table><tr><th>decision</th><th>records</th><th>share</th><th></th></tr>\n");
    for (int d = 0; d < FA_NDEC; d++) {
        if (d == FA_OTHER && !c->decisions[d])
            continue;
        fprintf(f, "<tr><td>%s</td><td class=\"n\">%llu</td><td class=\"n\">%.2f %%</td>",
                fa_decision_names[d], (unsigned long long)c->decisions[d],
                c->records ? 100.0 * (double)c->decisions[d] / (double)c->records : 0.0);
        cell_bar(f, c->decisions[d], c->records, dec_colour[d]);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n<table><tr><th>op</th><th>records</th></tr>\n");
    for (int i = 0; i < FA_NOPS; i++)
        if (i < FA_OP_PROXY || c->ops[i])
            fprintf(f, "<tr><td>%s</td><td class=\"n\">%llu</td></tr>\n", fa_op_names[i],
                    (unsigned long long)c->ops[i]);
    fprintf(f, "</table></section>\n");
}

static void html_days(FILE *f, report *r, figures *g)
{
    fprintf(f, "<section id=\"days\"><h2>3. Decisions per day</h2>\n");
    if (!g->nbars) {
        fprintf(f, "<p>No dated records.</p></section>\n");
        return;
    }
    if (g->days_per_bar > 1)
        fprintf(f, "<p class=\"note\">%d days per bar (the period is longer than %d days).</p>\n",
                g->days_per_bar, MAX_BARS);
    day_chart(f, g, 0xf, "all decisions per day, stacked");
    fprintf(f, "<p class=\"note\">Flag and block only (the same days, their own scale):</p>\n");
    day_chart(f, g, (1u << FA_FLAG) | (1u << FA_BLOCK) | (1u << FA_OTHER),
              "flag and block decisions per day, stacked");
    if (r->days_dropped)
        fprintf(f,
                "<p class=\"note\">%llu records on days beyond the %d distinct days kept are "
                "not charted.</p>\n",
                (unsigned long long)r->days_dropped, MAX_DAYS);
    fprintf(f, "</section>\n");
}

static void html_categories(FILE *f, report *r, figures *g)
{
    uint64_t max = 0;
    for (size_t i = 0; i < r->st.cats.n; i++)
        if (g->cats[i]->count > max)
            max = g->cats[i]->count;
    fprintf(f, "<section id=\"categories\"><h2>4. Categories</h2>\n<p class=\"note\">Records "
               "with at least one match in the category (TC260-003), a record counted once per "
               "category. Names from ");
    esc(f, r->names_dir ? r->names_dir : "(no categories.tsv found)");
    fprintf(f, r->names_dir ? "/categories.tsv.</p>\n" : ".</p>\n");
    fprintf(f, "<table><tr><th>category</th><th>名称</th><th>name</th><th>records</th><th></th>"
               "</tr>\n");
    for (size_t i = 0; i < r->st.cats.n; i++) {
        const fa_entry *nm = fa_table_find(&r->names, g->cats[i]->key);
        fprintf(f, "<tr><td>");
        esc(f, g->cats[i]->key);
        fprintf(f, "</td><td>");
        esc(f, nm ? nm->category : "");
        fprintf(f, "</td><td>");
        esc(f, nm ? nm->src : "");
        fprintf(f, "</td><td class=\"n\">%llu</td>", (unsigned long long)g->cats[i]->count);
        cell_bar(f, g->cats[i]->count, max, "#c8443a");
        fprintf(f, "</tr>\n");
    }
    if (!r->st.cats.n)
        fprintf(f, "<tr><td colspan=\"5\">(no matches)</td></tr>\n");
    fprintf(f, "</table>\n");
    if (r->st.cats_other)
        fprintf(f,
                "<p class=\"note\">%llu category counts beyond the first %d distinct "
                "categories are not itemised.</p>\n",
                (unsigned long long)r->st.cats_other, FA_MAX_CATEGORIES);
    fprintf(f, "</section>\n");
}

static void html_rules(FILE *f, report *r, figures *g)
{
    size_t top = r->st.rules.n < TOP_RULES ? r->st.rules.n : TOP_RULES;
    fprintf(f,
            "<section id=\"rules\"><h2>5. Top rules</h2>\n<p class=\"note\">The %zu rules with "
            "the most matches, of %zu that matched (--json lists all). Source: the rule's "
            "FILE:LINE in the rule directory, as recorded.</p>\n",
            top, r->st.rules.n);
    fprintf(f, "<table><tr><th>#</th><th>rule</th><th>category</th><th>source</th>"
               "<th>matches</th><th></th></tr>\n");
    for (size_t i = 0; i < top; i++) {
        fprintf(f, "<tr><td class=\"n\">%zu</td><td class=\"mono\">", i + 1);
        esc(f, g->rules[i]->key);
        fprintf(f, "</td><td>");
        esc(f, g->rules[i]->category);
        fprintf(f, "</td><td class=\"mono\">");
        esc(f, g->rules[i]->src);
        fprintf(f, "</td><td class=\"n\">%llu</td>", (unsigned long long)g->rules[i]->count);
        cell_bar(f, g->rules[i]->count, g->rules[0]->count, "#5470a8");
        fprintf(f, "</tr>\n");
    }
    if (!top)
        fprintf(f, "<tr><td colspan=\"6\">(no matches)</td></tr>\n");
    fprintf(f, "</table>\n");
    if (r->st.rules_other)
        fprintf(f,
                "<p class=\"note\">%llu matches of rules beyond the first %d distinct rule "
                "ids are not itemised.</p>\n",
                (unsigned long long)r->st.rules_other, FA_MAX_RULES);
    fprintf(f, "</section>\n");
}

static void html_rulesets(FILE *f, report *r, figures *g)
{
    fprintf(f, "<section id=\"rulesets\"><h2>6. Rule-set versions in force</h2>\n"
               "<p class=\"note\">Each version (the <code>rules</code> field: a hash of the rule "
               "files) with the first and last record it decided, oldest first. Keep the rule "
               "files of each version to interpret its records.</p>\n"
               "<table><tr><th>version</th><th>first record</th><th>last record</th>"
               "<th>records</th></tr>\n");
    for (size_t i = 0; i < r->rulesets.n; i++) {
        char a[40], b[40];
        fmt_time(g->rulesets[i]->first_us, a, sizeof a);
        fmt_time(g->rulesets[i]->last_us, b, sizeof b);
        fprintf(f, "<tr><td class=\"mono\">");
        esc(f, g->rulesets[i]->key);
        fprintf(
            f,
            "</td><td class=\"t\">%s</td><td class=\"t\">%s</td><td class=\"n\">%llu</td></tr>\n",
            a, b, (unsigned long long)g->rulesets[i]->count);
    }
    if (r->rulesets_other)
        fprintf(f,
                "<tr><td>(other versions beyond %d)</td><td></td><td></td><td class=\"n\">%llu</td>"
                "</tr>\n",
                MAX_RULESETS, (unsigned long long)r->rulesets_other);
    if (r->no_rules)
        fprintf(f, "<tr><td>(not recorded)</td><td></td><td></td><td class=\"n\">%llu</td></tr>\n",
                (unsigned long long)r->no_rules);
    fprintf(f, "</table></section>\n");
}

static void html_chain(FILE *f, report *r, figures *g)
{
    fprintf(f,
            "<section id=\"chain\"><h2>7. Chain verification</h2>\n<p>Result: %s</p>\n"
            "<p class=\"note\">Every line of every file, all times: JSON, <code>seq</code> "
            "increasing, <code>prev</code> the SHA-256 of the line before (across files, in "
            "the order given). A changed line shows on the line after it.</p>\n"
            "<table><tr><th>file</th><th>lines</th><th>first record</th><th>last record</th>"
            "<th>result</th></tr>\n",
            g->chain_ok ? "<span class=\"ok\">intact</span>"
                        : "<span class=\"bad\">FAILED</span> (see below)");
    for (int i = 0; i < r->o->nfiles; i++) {
        const file_result *fr = &r->files[i];
        char a[40], b[40];
        fmt_time(fr->first_us, a, sizeof a);
        fmt_time(fr->last_us, b, sizeof b);
        fprintf(f, "<tr><td class=\"mono\">");
        esc(f, fr->path);
        fprintf(f,
                "</td><td class=\"n\">%llu</td><td class=\"t\">%s</td><td class=\"t\">%s</td><td>",
                (unsigned long long)fr->lines, a, b);
        if (fr->ok) {
            fprintf(f, "<span class=\"ok\">intact</span>%s",
                    fr->new_chain ? " (a chain starts here)" : "");
        } else {
            fprintf(f, "<span class=\"bad\">FAILED</span> at line %llu: ",
                    (unsigned long long)fr->bad_line);
            esc(f, fr->msg);
        }
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table></section>\n");
}

static void html_latency(FILE *f, report *r, figures *g)
{
    fprintf(f,
            "<section id=\"latency\"><h2>8. Latency</h2>\n<p class=\"note\">Server time per "
            "decision (<code>us</code>), over %llu records; percentiles from a histogram with "
            "buckets about 3 %% wide (the value shown is its bucket's upper bound), max and "
            "mean exact.</p>\n",
            (unsigned long long)r->lat_n);
    if (!r->lat_n) {
        fprintf(f, "<p>No records with a latency.</p></section>\n");
        return;
    }
    fprintf(f, "<table><tr><th>percentile</th><th>µs</th><th></th></tr>\n");
    for (int i = 0; i < 5; i++) {
        fprintf(f, "<tr><td>%s</td><td class=\"n\">%llu</td>", pct_names[i],
                (unsigned long long)g->p[i]);
        cell_bar(f, g->p[i], g->p[4], "#5470a8");
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "<tr><td>mean</td><td class=\"n\">%.1f</td><td></td></tr>\n</table></section>\n",
            (double)(r->lat_sum / r->lat_n));
}

static void html_api(FILE *f, report *r, figures *g)
{
    uint64_t total = r->no_api + r->apis_other;
    for (size_t i = 0; i < r->apis.n; i++)
        total += g->apis[i]->count;
    fprintf(f, "<section id=\"api\"><h2>9. Interfaces (api)</h2>\n<p class=\"note\">Which "
               "interface asked (the <code>api</code> field). Records written before filterd "
               "recorded it are shown as not recorded.</p>\n<table><tr><th>api</th>"
               "<th>records</th><th>share</th><th></th></tr>\n");
    for (size_t i = 0; i <= r->apis.n + 1; i++) {
        const char *name;
        uint64_t n;
        if (i < r->apis.n) {
            name = g->apis[i]->key;
            n = g->apis[i]->count;
        } else if (i == r->apis.n) {
            name = "(other)";
            n = r->apis_other;
        } else {
            name = "(not recorded)";
            n = r->no_api;
        }
        if (i >= r->apis.n && !n)
            continue;
        fprintf(f, "<tr><td>");
        esc(f, name);
        fprintf(f, "</td><td class=\"n\">%llu</td><td class=\"n\">%.2f %%</td>",
                (unsigned long long)n, total ? 100.0 * (double)n / (double)total : 0.0);
        cell_bar(f, n, total, "#7a5aa8");
        fprintf(f, "</tr>\n");
    }
    if (!total)
        fprintf(f, "<tr><td colspan=\"4\">(no records)</td></tr>\n");
    fprintf(f, "</table></section>\n");
}

static int write_html(report *r, figures *g, const char *path)
{
    /* write beside OUT and rename: a reader never sees half a report */
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return oom();
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "filterctl: %s: %s\n", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    html_head(f, r, g);
    html_period(f, r);
    html_totals(f, r);
    html_days(f, r, g);
    html_categories(f, r, g);
    html_rules(f, r, g);
    html_rulesets(f, r, g);
    html_chain(f, r, g);
    html_latency(f, r, g);
    html_api(f, r, g);
    fprintf(f,
            "<footer><p class=\"note\">Generated %s by <code>filterctl audit report</code> "
            "from %d file%s. The same figures: <code>filterctl audit report --json</code>; "
            "one record: <code>filterctl audit find</code>.</p></footer>\n</body>\n</html>\n",
            r->generated, r->o->nfiles, r->o->nfiles == 1 ? "" : "s");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        fprintf(stderr, "filterctl: %s: %s\n", path, strerror(errno ? errno : EIO));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* ---- main ---- */

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The rule directory as filterd resolves --rules (SPEC §1). */
static const char *default_rules_dir(void)
{
    const char *env = getenv("FILTERD_RULES");
    if (env && *env)
        return env;
    if (is_dir(FILTERD_INSTALL_RULES))
        return FILTERD_INSTALL_RULES;
    if (is_dir(FILTERD_SOURCE_RULES))
        return FILTERD_SOURCE_RULES;
    return NULL;
}

int fa_report(const fa_opts *o)
{
    report r;
    memset(&r, 0, sizeof r);
    r.o = o;
    fa_stats_init(&r.st, o->since, o->until);
    r.files = calloc((size_t)o->nfiles, sizeof *r.files);
    fa_format_time((int64_t)time(NULL) * 1000000, r.generated, sizeof r.generated);
    memcpy(r.generated + 19, "Z", 2); /* whole seconds */
    int status = EXIT_SOFTWARE;
    figures g;
    memset(&g, 0, sizeof g);
    if (!r.files) {
        oom();
        goto out;
    }
    if (o->rules_dir) {
        if (fa_load_names(&r.names, o->rules_dir) != 0)
            goto out;
        r.names_dir = o->rules_dir;
    } else {
        const char *d = default_rules_dir();
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/categories.tsv", d ? d : "");
        struct stat st;
        if (d && stat(path, &st) == 0 && fa_load_names(&r.names, d) == 0)
            r.names_dir = d;
        else
            fprintf(stderr, "filterctl: no categories.tsv found (give --rules DIR); categories "
                            "are shown by id only\n");
    }
    if (read_files(&r) != 0 || figures_make(&r, &g) != 0)
        goto out;
    if (o->html && write_html(&r, &g, o->html) != 0)
        goto out;
    if (o->json) {
        char *s = report_json(&r, &g);
        if (!s) {
            oom();
            goto out;
        }
        printf("%s\n", s);
        free(s);
    }
    status = g.chain_ok ? 0 : 1;
out:
    figures_free(&g);
    fa_stats_free(&r.st);
    fa_table_free(&r.names);
    fa_table_free(&r.days);
    fa_table_free(&r.rulesets);
    fa_table_free(&r.apis);
    free(r.files);
    return status;
}
