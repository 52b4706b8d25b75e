/*
 * test_audit_find.c — `filterctl audit find` (SPEC §4) on the data set of
 * audit_gen.h (three files: plain, .gz, plain; one chain): each filter
 * alone and combined, across the rotation and the .gz file, in order, no
 * match, damaged lines (reported as FILE:LINE, the search goes on), and
 * usage errors. Runs the real build/filterctl.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_gen.h"
#include "harness.h"

TestSuite(audit_find, .init = fdt_setup, .fini = fdt_teardown, .timeout = 60);

static fdt_dataset ds;

/* Run `filterctl audit find <the three files> ARGS...`; returns the exit
 * status, stdout in *OUT and stderr in *ERR (caller frees). */
static int find(const char *const *args, char **out, char **err)
{
    const char *argv[24];
    int n = 0;
    argv[n++] = "audit";
    argv[n++] = "find";
    for (int i = 0; i < 3; i++)
        argv[n++] = ds.files[i];
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return fdt_run(FILTERCTL_BIN, argv, NULL, out, err);
}

/* OUT must be exactly the records IDX[0..n) of the data set, in order. */
static void expect(const char *out, const int *idx, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(ds.lines[idx[i]]) + 1;
    char *want = calloc(1, len);
    cr_assert(want);
    for (size_t i = 0; i < n; i++) {
        strcat(want, ds.lines[idx[i]]);
        strcat(want, "\n");
    }
    cr_assert_str_eq(out, want);
    free(want);
}

#define FIND(want_status, ...)                                                                     \
    do {                                                                                           \
        const char *a_[] = {__VA_ARGS__, NULL};                                                    \
        char *o_, *e_;                                                                             \
        int st_ = find(a_, &o_, &e_);                                                              \
        cr_assert_eq(st_, (want_status), "exit %d, stderr: %s", st_, e_);                          \
        cr_assert_str_eq(e_, "", "stderr: %s", e_);                                                \
        static const int idx_[] = {EXPECT};                                                        \
        expect(o_, idx_ + 1, sizeof idx_ / sizeof *idx_ - 1);                                      \
        free(o_);                                                                                  \
        free(e_);                                                                                  \
    } while (0)

Test(audit_find, each_filter_alone)
{
    fdt_dataset_write(&ds, fdt_d.dir);
    char alpha[65];
    fdt_sha256("alpha", 5, alpha);
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(alpha[i] >= 'a' && alpha[i] <= 'f' ? alpha[i] - 32 : alpha[i]);

        /* --id: a string id; a numeric id; the same id in two files (.gz and plain) */
#define EXPECT -1, 1
    FIND(0, "--id", "a-2");
#undef EXPECT
#define EXPECT -1, 2
    FIND(0, "--id", "7");
#undef EXPECT
#define EXPECT -1, 5, 6
    FIND(0, "--id", "dup");
#undef EXPECT
    /* --sha256 (any case) and --text: the same records, across all three files */
#define EXPECT -1, 0, 2, 4, 6
    FIND(0, "--sha256", alpha);
    FIND(0, "--sha256", upper);
    FIND(0, "--text", "alpha");
#undef EXPECT
    /* --since (inclusive), --until (exclusive); offsets and bare dates */
#define EXPECT -1, 3, 4, 5, 6, 7
    FIND(0, "--since", "2026-11-03");
    FIND(0, "--since", "2026-11-03T08:00:00+08:00");
#undef EXPECT
#define EXPECT -1, 0, 1, 2
    FIND(0, "--until", "2026-11-03T00:00:00Z");
#undef EXPECT
#define EXPECT -1, 0, 1, 2, 3, 4, 5, 6, 7
    FIND(0, "--since", "2000-01-01");
#undef EXPECT
    fdt_dataset_free(&ds);
}

Test(audit_find, combined)
{
    fdt_dataset_write(&ds, fdt_d.dir);
#define EXPECT -1, 2, 4
    FIND(0, "--text", "alpha", "--since", "2026-11-02", "--until", "2026-11-05");
#undef EXPECT
#define EXPECT -1, 6
    FIND(0, "--id", "dup", "--text", "alpha");
#undef EXPECT
#define EXPECT -1, 5
    FIND(0, "--id", "dup", "--until", "2026-11-05T00:00:00Z");
#undef EXPECT
    /* the last µs before midnight is still the 4th */
#define EXPECT -1, 5
    FIND(0, "--id", "dup", "--since", "2026-11-04", "--until", "2026-11-05");
#undef EXPECT
    fdt_dataset_free(&ds);
}

Test(audit_find, no_match)
{
    fdt_dataset_write(&ds, fdt_d.dir);
#define EXPECT -1
    FIND(1, "--id", "nobody");
    FIND(1, "--text", "alphA");
    FIND(1, "--id", "a-2", "--text", "alpha"); /* every filter must match */
    FIND(1, "--since", "2026-11-06");
    FIND(1, "--id", "a-1", "--since", "2026-11-01T10:00:00.000001Z");
#undef EXPECT
    fdt_dataset_free(&ds);
}

Test(audit_find, damaged_lines)
{
    fdt_dataset_write(&ds, fdt_d.dir);
    /* the first file with a broken line between records 0 and 1, and a
     * torn last line (a crash mid-write); the .gz file truncated */
    FILE *f = fopen(ds.files[0], "w");
    cr_assert(f);
    fprintf(f, "%s\n{\"ts\":\"2026-11-01T11:00:00Z\",\"seq\":\n%s\n%s\n{\"ts\":\"2026", ds.lines[0],
            ds.lines[1], ds.lines[2]);
    fclose(f);
    char *out, *err;
    const char *args[] = {"--text", "alpha", NULL};
    cr_assert_eq(find(args, &out, &err), 0, "%s", err);
    static const int all_alpha[] = {0, 2, 4, 6};
    expect(out, all_alpha, 4); /* the search went on after the damaged lines */
    char want[4300];
    snprintf(want, sizeof want, "%s:2: not a JSON record", ds.files[0]);
    cr_assert(strstr(err, want), "%s", err);
    snprintf(want, sizeof want, "%s:5: torn last line", ds.files[0]);
    cr_assert(strstr(err, want), "%s", err);
    cr_assert(strstr(err, "2 damaged lines skipped"), "%s", err);
    free(out);
    free(err);

    /* a truncated .gz: its complete lines are searched, the damage is
     * reported with the file, the later files are still searched, and
     * the exit status says a file could not be read completely */
    size_t len;
    char *gz = fdt_slurp(ds.files[1], &len);
    cr_assert(gz && len > 30);
    f = fopen(ds.files[1], "w");
    cr_assert(f);
    fwrite(gz, 1, len - 12, f); /* cut the trailer and some data */
    fclose(f);
    free(gz);
    const char *args2[] = {"--id", "dup", NULL};
    int st = find(args2, &out, &err);
    cr_assert_eq(st, 70, "%d %s", st, err);
    cr_assert(strstr(out, ds.lines[6]), "%s", out); /* the live file was searched */
    snprintf(want, sizeof want, "%s:", ds.files[1]);
    cr_assert(strstr(err, want), "%s", err);
    free(out);
    free(err);
    fdt_dataset_free(&ds);
}

Test(audit_find, usage)
{
    fdt_dataset_write(&ds, fdt_d.dir);
    const char *bad[][8] = {
        {"audit", "find", NULL},                                      /* no file */
        {"audit", "find", ds.files[0], "--sha256", "abc", NULL},      /* not 64 hex */
        {"audit", "find", ds.files[0], "--since", "yesterday", NULL}, /* not a time */
        {"audit", "find", ds.files[0], "--html", "x.html", NULL},     /* report's option */
        {"audit", "stats", ds.files[0], "--id", "a-1", NULL},         /* find's option */
        {"audit", "find", ds.files[0], "--since", "2026-11-02", "--until", "2026-11-01", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *err;
        cr_assert_eq(fdt_run(FILTERCTL_BIN, bad[i], NULL, NULL, &err), 64, "case %zu", i);
        cr_assert(strlen(err) > 0, "case %zu: no message", i);
        free(err);
    }
    /* a missing file: said, and 70 */
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/nope.log", fdt_d.dir);
    const char *args[] = {"audit", "find", missing, "--id", "a-1", NULL};
    char *err;
    cr_assert_eq(fdt_run(FILTERCTL_BIN, args, NULL, NULL, &err), 70);
    cr_assert(strstr(err, "nope.log"), "%s", err);
    free(err);
    fdt_dataset_free(&ds);
}
