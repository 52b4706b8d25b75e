/*
 * audit_gen.h — write audit files for the `audit find` / `audit report`
 * tests (test_audit_find.c, test_audit_report.c): records as filterd
 * writes them (SPEC §4), chained with SHA-256 from OpenSSL directly
 * (audit_util.h), into plain or gzip files (zlib), so a test controls
 * days, ids, texts, api values and latencies exactly.
 */
#ifndef FDT_AUDIT_GEN_H
#define FDT_AUDIT_GEN_H

#include <zlib.h>

#include "audit_util.h"

typedef struct fdt_rec {
    const char *ts;       /* "2026-11-01T10:00:00.000000Z" */
    const char *id;       /* JSON: "\"a-1\"" or "7" */
    const char *op;       /* check | stream | proxy */
    const char *api;      /* NULL: no api field (older records) */
    const char *decision; /* allow | flag | block */
    const char *matches;  /* JSON array members, "" for none */
    const char *text;     /* hashed into sha256 */
    const char *rules;    /* rule-set version */
    int us;
} fdt_rec;

/* The chain state across files. */
typedef struct fdt_chain {
    char prev[65];
    unsigned long seq;
} fdt_chain;

static inline void fdt_chain_init(fdt_chain *c)
{
    memcpy(c->prev, FDT_ZEROS, 65);
    c->seq = 0;
}

/* Format R as the next line of chain C (no newline; caller frees). */
static inline char *fdt_rec_line(fdt_chain *c, const fdt_rec *r)
{
    char sha[65], api[64] = "";
    fdt_sha256(r->text, strlen(r->text), sha);
    if (r->api)
        snprintf(api, sizeof api, "\"api\":\"%s\",", r->api);
    char *line = NULL;
    int n = asprintf(&line,
                     "{\"ts\":\"%s\",\"seq\":%lu,\"op\":\"%s\",%s\"id\":%s,\"decision\":\"%s\","
                     "\"matches\":[%s],\"sha256\":\"%s\",\"bytes\":%zu,\"rules\":\"%s\","
                     "\"peer\":{\"pid\":1,\"uid\":0,\"gid\":0},\"meta\":null,\"us\":%d,"
                     "\"prev\":\"%s\"}",
                     r->ts, ++c->seq, r->op, api, r->id, r->decision, r->matches, sha,
                     strlen(r->text), r->rules, r->us, c->prev);
    cr_assert(n > 0);
    fdt_sha256(line, strlen(line), c->prev);
    return line;
}

/* Write RECS[0..n) to PATH (gzip-compressed if GZ), continuing chain C;
 * the lines written go to LINES[0..n) when not NULL (caller frees). */
static inline void fdt_write_recs(const char *path, bool gz, fdt_chain *c, const fdt_rec *recs,
                                  size_t n, char **lines)
{
    FILE *f = gz ? NULL : fopen(path, "w");
    gzFile z = gz ? gzopen(path, "wb") : NULL;
    cr_assert(f || z, "%s: %s", path, strerror(errno));
    for (size_t i = 0; i < n; i++) {
        char *l = fdt_rec_line(c, &recs[i]);
        if (z) {
            cr_assert(gzwrite(z, l, (unsigned)strlen(l)) == (int)strlen(l) &&
                      gzwrite(z, "\n", 1) == 1);
        } else {
            fprintf(f, "%s\n", l);
        }
        if (lines)
            lines[i] = l;
        else
            free(l);
    }
    if (z)
        cr_assert(gzclose(z) == Z_OK);
    else
        cr_assert(fclose(f) == 0);
}

/*
 * The data set of both suites: 8 records over three files, oldest first,
 * as logrotate leaves them: DIR/audit.log-1 (plain), DIR/audit.log-2.gz,
 * DIR/audit.log (the live file). Records 0-2 carry no api (written before
 * the field existed) and rule set V1, records 3-7 an api and V2.
 *
 *   #  ts (UTC)                   id     op      api     decision text    us   matches
 *   0  2026-11-01T10:00:00        "a-1"  check   -       allow    alpha   10
 *   1  2026-11-01T12:00:00        "a-2"  check   -       block    bravo   20   bomb
 *   2  2026-11-02T09:30:00        7      stream  -       flag     alpha   30   casino
 *   3  2026-11-03T00:00:00        "a-4"  check   http    allow    charlie 40
 *   4  2026-11-03T08:00:00        "a-5"  check   openai  block    alpha   50   bomb zhadan casino
 *   5  2026-11-04T23:59:59.999999 "dup"  proxy   proxy   allow    delta   60
 *   6  2026-11-05T00:00:00        "dup"  check   openai  allow    alpha   70
 *   7  2026-11-05T23:00:00        "a-8"  check   ndjson  flag     echo    1000 casino
 */
#define FDT_M_BOMB                                                                                 \
    "{\"rule\":\"bomb\",\"category\":\"A1.4\",\"action\":\"block\",\"start\":0,\"end\":4,"         \
    "\"src\":\"test.rules:4\",\"excerpt\":\"bomb\"}"
#define FDT_M_ZHADAN                                                                               \
    "{\"rule\":\"zhadan\",\"category\":\"A1.4\",\"action\":\"block\",\"start\":5,\"end\":17,"      \
    "\"src\":\"test.rules:6\",\"excerpt\":\"制造炸弹\"}"
#define FDT_M_CASINO                                                                               \
    "{\"rule\":\"casino\",\"category\":\"A1.8\",\"action\":\"flag\",\"start\":0,\"end\":6,"        \
    "\"src\":\"test.rules:10\",\"excerpt\":\"casino\"}"
#define FDT_V1 "1111111111111111111111111111111111111111111111111111111111111111"
#define FDT_V2 "2222222222222222222222222222222222222222222222222222222222222222"

static const fdt_rec fdt_dataset_recs[8] = {
    {"2026-11-01T10:00:00.000000Z", "\"a-1\"", "check", NULL, "allow", "", "alpha", FDT_V1, 10},
    {"2026-11-01T12:00:00.000000Z", "\"a-2\"", "check", NULL, "block", FDT_M_BOMB, "bravo", FDT_V1,
     20},
    {"2026-11-02T09:30:00.000000Z", "7", "stream", NULL, "flag", FDT_M_CASINO, "alpha", FDT_V1, 30},
    {"2026-11-03T00:00:00.000000Z", "\"a-4\"", "check", "http", "allow", "", "charlie", FDT_V2, 40},
    {"2026-11-03T08:00:00.000000Z", "\"a-5\"", "check", "openai", "block",
     FDT_M_BOMB "," FDT_M_ZHADAN "," FDT_M_CASINO, "alpha", FDT_V2, 50},
    {"2026-11-04T23:59:59.999999Z", "\"dup\"", "proxy", "proxy", "allow", "", "delta", FDT_V2, 60},
    {"2026-11-05T00:00:00.000000Z", "\"dup\"", "check", "openai", "allow", "", "alpha", FDT_V2, 70},
    {"2026-11-05T23:00:00.000000Z", "\"a-8\"", "check", "ndjson", "flag", FDT_M_CASINO, "echo",
     FDT_V2, 1000},
};

typedef struct fdt_dataset {
    char files[3][4200]; /* oldest first */
    char *lines[8];      /* the records as written */
} fdt_dataset;

static inline void fdt_dataset_free(fdt_dataset *d);

/* Write the data set under DIR (again: the lines of the last write are
 * freed first). */
static inline void fdt_dataset_write(fdt_dataset *d, const char *dir)
{
    fdt_dataset_free(d);
    snprintf(d->files[0], sizeof d->files[0], "%s/audit.log-1", dir);
    snprintf(d->files[1], sizeof d->files[1], "%s/audit.log-2.gz", dir);
    snprintf(d->files[2], sizeof d->files[2], "%s/audit.log", dir);
    fdt_chain c;
    fdt_chain_init(&c);
    fdt_write_recs(d->files[0], false, &c, fdt_dataset_recs, 3, d->lines);
    fdt_write_recs(d->files[1], true, &c, fdt_dataset_recs + 3, 3, d->lines + 3);
    fdt_write_recs(d->files[2], false, &c, fdt_dataset_recs + 6, 2, d->lines + 6);
}

static inline void fdt_dataset_free(fdt_dataset *d)
{
    for (int i = 0; i < 8; i++) {
        free(d->lines[i]);
        d->lines[i] = NULL;
    }
}

#endif
