/*
 * testutil.h — helpers shared by the engine unit tests: temporary rule
 * directories written from strings, and one-call load + scan.
 * Everything returned is owned by the caller; tu_rmdir() removes a directory
 * made by tu_ruledir().
 */
#ifndef FD_TESTUTIL_H
#define FD_TESTUTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ruleset.h"
#include "scan.h"

/* A few categories, as in rules/categories.tsv. */
#define TU_CATEGORIES                                                                              \
    "A1.4\t宣扬恐怖主义、极端主义\tPromoting terrorism or extremism\t(1)\n"             \
    "A1.6\t宣扬暴力、淫秽色情\tPromoting violence, obscenity or pornography\t(1)\n"       \
    "A4.6\t侵害他人个人信息权益\tInfringing personal-information rights\t(4)\n"

/* Write FILE (relative, parent directories created) with CONTENT under DIR. */
static inline void tu_write(const char *dir, const char *file, const char *content)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(content, f);
    fclose(f);
    chmod(path, 0644);
}

/* A fresh temporary rule directory with TU_CATEGORIES and, if RULES is not
 * NULL, "test.rules" holding RULES. Caller frees the returned path. */
static inline char *tu_ruledir(const char *rules)
{
    char tmpl[] = "/tmp/fd-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    cr_assert(d);
    d = strdup(d);
    tu_write(d, "categories.tsv", TU_CATEGORIES);
    if (rules)
        tu_write(d, "test.rules", rules);
    return d;
}

static inline void tu_rmdir(char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

/* Load and compile RULES (a test.rules body); asserts success. */
static inline fd_ruleset *tu_compile(const char *rules)
{
    char *d = tu_ruledir(rules);
    fd_diag diag = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    int r = fd_ruleset_load(d, &rs, &diag);
    if (r) {
        char *all = fd_diag_join(&diag);
        cr_assert_fail("load failed: %s\n%s", fd_strerror(r), all ? all : "");
    }
    fd_diag_free(&diag);
    tu_rmdir(d);
    return rs;
}

/* Load RULES expecting failure; returns all diagnostics joined (caller frees). */
static inline char *tu_compile_error(const char *rules)
{
    char *d = tu_ruledir(rules);
    fd_diag diag = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    int r = fd_ruleset_load(d, &rs, &diag);
    cr_assert_neq(r, 0, "expected an error for:\n%s", rules);
    cr_assert_null(rs);
    char *all = fd_diag_join(&diag);
    cr_assert(all, "no diagnostic for:\n%s", rules);
    fd_diag_free(&diag);
    tu_rmdir(d);
    return all;
}

/* Scan TEXT with RS into RES using a fresh scratch; returns fd_scan's code. */
static inline int tu_scan(fd_ruleset *rs, const char *text, fd_result *res)
{
    fd_scratch *s = NULL;
    cr_assert_eq(fd_scratch_new(rs, &s), 0);
    int r = fd_scan(rs, s, text, strlen(text), res);
    fd_scratch_free(s);
    return r;
}

/* The id of the rule of match I. */
static inline const char *tu_rule_id(fd_ruleset *rs, const fd_result *res, size_t i)
{
    return fd_ruleset_rule(rs, res->matches[i].rule)->id;
}

#endif
