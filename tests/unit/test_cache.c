/*
 * test_cache.c — the compiled-database cache: a hit gives the same results
 * as a cold compile; truncated, corrupted and foreign entries are rejected
 * and rebuilt; old entries are pruned.
 */
#include "testutil.h"

#include <dirent.h>

#include "cache.h"

static const char *RULES = "@category A1.4\n炸弹\n制造炸弹\nhow to make a bomb\n"
                           "/build(ing)? an? (pipe|nail) bomb/i\n/(\\w{3})-\\1/\n"
                           "@match word\nkill\n@match raw\n@action flag\n/1[3-9][0-9]{9}/\n"
                           "@action allow\n@match normalized\n路口交通\n"
                           "@action block\n@all 枪支 && 出售\n";

static const char *TEXTS[] = {"这是制造炸彈",     "Building a PIPE bomb", "abc-abc",  "kill it",
                              "call 13812345678", "前方路口交通",         "出售枪支", "nothing"};

static char cdir[64];

static void setup(void)
{
    strcpy(cdir, "/tmp/fd-cache-XXXXXX");
    cr_assert(mkdtemp(cdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cache, .init = setup, .fini = teardown);

static fd_ruleset *load(const char *dir, int want_cached, const char *want_note)
{
    fd_diag d = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    fd_ruleset_opts o = {.cache_dir = cdir};
    int r = fd_ruleset_load_opts(dir, &o, &rs, &d);
    cr_assert_eq(r, 0, "%s", d.n ? d.lines[0] : "");
    fd_diag_free(&d);
    cr_assert_eq(fd_ruleset_cached(rs), want_cached, "cache note: %s",
                 fd_ruleset_cache_note(rs) ? fd_ruleset_cache_note(rs) : "-");
    if (want_note)
        cr_assert_str_eq(fd_ruleset_cache_note(rs), want_note);
    return rs;
}

static void same_results(fd_ruleset *a, fd_ruleset *b)
{
    fd_result ra, rb;
    fd_result_init(&ra);
    fd_result_init(&rb);
    for (size_t t = 0; t < sizeof TEXTS / sizeof *TEXTS; t++) {
        cr_assert_eq(tu_scan(a, TEXTS[t], &ra), 0);
        cr_assert_eq(tu_scan(b, TEXTS[t], &rb), 0);
        cr_assert_eq(ra.decision, rb.decision, "text %zu", t);
        cr_assert_eq(ra.n, rb.n, "text %zu", t);
        for (size_t i = 0; i < ra.n; i++)
            cr_assert(ra.matches[i].rule == rb.matches[i].rule &&
                          ra.matches[i].start == rb.matches[i].start &&
                          ra.matches[i].end == rb.matches[i].end,
                      "text %zu match %zu", t, i);
    }
    fd_result_free(&ra);
    fd_result_free(&rb);
}

/* The one entry in the cache directory. */
static void entry_path(char *out, size_t n)
{
    DIR *d = opendir(cdir);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".fdcache")) {
            cr_assert_lt(snprintf(out, n, "%s/%s", cdir, e->d_name), (int)n);
            found++;
        }
    closedir(d);
    cr_assert_eq(found, 1);
}

Test(cache, hit_gives_identical_results)
{
    char *dir = tu_ruledir(RULES);
    fd_ruleset *cold = load(dir, 0, "missing");
    fd_ruleset *warm = load(dir, 1, "hit");
    cr_assert_str_eq(fd_ruleset_version(cold), fd_ruleset_version(warm));
    same_results(cold, warm);
    /* streams work from cached stream databases too */
    cr_assert_eq(fd_ruleset_stream_state_bytes(cold), fd_ruleset_stream_state_bytes(warm));
    fd_ruleset_unref(cold);
    fd_ruleset_unref(warm);
    /* a changed rule set is another key: a compile, not a stale hit */
    tu_write(dir, "test.rules", "@category A1.4\nsomething else\n");
    fd_ruleset *other = load(dir, 0, "missing");
    fd_ruleset_unref(other);
    tu_rmdir(dir);
}

static void damage(const char *how)
{
    char p[512];
    entry_path(p, sizeof p);
    FILE *f = fopen(p, "r+b");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    if (!strcmp(how, "truncate")) {
        fclose(f);
        cr_assert_eq(truncate(p, len / 2), 0);
        return;
    }
    if (!strcmp(how, "corrupt")) {
        fseek(f, len - 100, SEEK_SET); /* inside a serialized database */
        fputc('X', f);
    } else { /* foreign: another key in the header */
        fseek(f, 8, SEEK_SET);
        fputs("0000", f);
    }
    fclose(f);
}

Test(cache, damaged_entries_rejected_and_rebuilt)
{
    const char *how[] = {"truncate", "corrupt", "foreign"};
    for (size_t i = 0; i < 3; i++) {
        char *dir = tu_ruledir(RULES);
        fd_ruleset *cold = load(dir, 0, NULL);
        damage(how[i]);
        fd_ruleset *again = load(dir, 0, "foreign or corrupt");
        same_results(cold, again);
        /* and rebuilt: the next load is a hit */
        fd_ruleset *warm = load(dir, 1, "hit");
        same_results(cold, warm);
        fd_ruleset_unref(cold);
        fd_ruleset_unref(again);
        fd_ruleset_unref(warm);
        tu_rmdir(dir);
        teardown();
        setup();
    }
}

Test(cache, old_entries_pruned)
{
    char *dir = tu_ruledir(NULL);
    for (int i = 0; i < FD_CACHE_KEEP + 3; i++) {
        char body[64];
        snprintf(body, sizeof body, "@category A1.4\nkeyword%d\n", i);
        tu_write(dir, "test.rules", body);
        fd_ruleset_unref(load(dir, 0, NULL));
    }
    DIR *d = opendir(cdir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".fdcache") != NULL;
    closedir(d);
    cr_assert_eq(n, FD_CACHE_KEEP);
    tu_rmdir(dir);
}

/* Databases compiled in a child process (fd_ruleset_opts.isolate_min) and
 * sent back serialized give the same results, stream databases included,
 * as those compiled in process. */
static fd_ruleset *load_isolated(const char *dir, size_t isolate_min)
{
    fd_diag d = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    fd_ruleset_opts o = {NULL, isolate_min};
    int r = fd_ruleset_load_opts(dir, &o, &rs, &d);
    cr_assert_eq(r, 0, "%s", d.n ? d.lines[0] : "");
    fd_diag_free(&d);
    return rs;
}

Test(cache, compile_in_child_gives_identical_results)
{
    char *dir = tu_ruledir(RULES);
    fd_ruleset *inproc = load_isolated(dir, SIZE_MAX);
    fd_ruleset *child = load_isolated(dir, 1);
    same_results(inproc, child);
    cr_assert_eq(fd_ruleset_db_bytes(inproc), fd_ruleset_db_bytes(child));
    cr_assert_eq(fd_ruleset_stream_state_bytes(inproc), fd_ruleset_stream_state_bytes(child));
    fd_ruleset_unref(inproc);
    fd_ruleset_unref(child);

    tu_rmdir(dir);
}
