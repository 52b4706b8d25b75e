/*
 * importbench.c — fd_importbench: vendor keyword lists at scale
 * (bench/README.md, "Vendor lists"). Not part of `make test`.
 *
 *   fd_importbench list N SEED CORPUS...
 *       a synthetic list of N keywords shaped like the public Chinese vendor
 *       lists, on stdout: mostly 2–6-character Han terms drawn with the
 *       corpus's character frequencies, everyday words cut from the corpus
 *       itself (as vendor lists contain 用户, 信息, 中国), Latin slang and
 *       common English words of the corpus, numbers, single characters,
 *       enclosed forms and lines with control characters.
 *   fd_importbench plain LIST
 *       the rule file the import wrote before SPEC §3.5 (the baseline of the
 *       gate's figures): every line a literal of the normalized view, only
 *       lines with C0 controls and lines with nothing left after
 *       normalization dropped (UTF-8 lists only).
 *   fd_importbench memory RULEDIR [RELOADS]
 *       in a child process: RSS before, compile time, peak RSS of the first
 *       compile (VmHWM), steady RSS after it, then RELOADS (default 20)
 *       reloads as the daemon does them (compile the new set while the old
 *       one is alive, then drop the old one): RSS after the first and after
 *       the last, the highest RSS between, the peak of the reloads.
 *   fd_importbench rate RULEDIR PATH...
 *       the paragraphs of PATH (files or directories, split as `rules import
 *       --benign` splits them) that RULEDIR blocks or flags, and the rules
 *       that do it most.
 *
 * Ownership: everything is freed before exit; failures print why and exit 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "import.h"
#include "norm.h"
#include "ruleset.h"
#include "scan.h"
#include "utf8.h"

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *b = malloc(cap);
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0)
        if ((n += r) == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    fclose(f);
    *len = n;
    return b;
}

/* The paragraphs of every UTF-8 file of PATHS (files or directories). */
static fd_benign *corpus(char **paths, int n)
{
    fd_benign *b;
    if (fd_benign_new(&b))
        return NULL;
    for (int i = 0; i < n; i++) {
        struct stat sb;
        if (stat(paths[i], &sb)) {
            perror(paths[i]);
            fd_benign_free(b);
            return NULL;
        }
        char **files = NULL;
        size_t nf = 1;
        fd_diag d = FD_DIAG_INIT;
        int dir = S_ISDIR(sb.st_mode);
        if (dir && fd_rules_find_files(paths[i], "", &files, &nf, &d)) {
            fd_diag_free(&d);
            fd_benign_free(b);
            return NULL;
        }
        fd_diag_free(&d);
        for (size_t k = 0; k < nf; k++) {
            char full[8192];
            snprintf(full, sizeof full, "%s%s%s", paths[i], dir ? "/" : "", dir ? files[k] : "");
            size_t len;
            char *buf = slurp(full, &len);
            if (buf)
                fd_benign_add(b, full, buf, len); /* not UTF-8: skipped */
            free(buf);
        }
        if (dir)
            fd_rules_free_paths(files, nf);
    }
    return b;
}

static void put_cp(FILE *f, uint32_t cp)
{
    char b[4];
    int n = 0;
    if (cp < 0x80) {
        b[n++] = (char)cp;
    } else if (cp < 0x800) {
        b[n++] = (char)(0xC0 | (cp >> 6));
        b[n++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        b[n++] = (char)(0xE0 | (cp >> 12));
        b[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[n++] = (char)(0x80 | (cp & 0x3F));
    } else {
        b[n++] = (char)(0xF0 | (cp >> 18));
        b[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[n++] = (char)(0x80 | (cp & 0x3F));
    }
    fwrite(b, 1, (size_t)n, f);
}

static int is_han(int32_t cp)
{
    return cp >= 0x4E00 && cp <= 0x9FFF;
}

/* A run of K Han characters of the corpus, from a random place: a real
 * word or phrase of everyday text. 0 if none was found in a few tries. */
static int everyday_han(const fd_benign *b, uint64_t *seed, int k, FILE *out)
{
    size_t nd = fd_benign_docs(b);
    for (int tries = 0; tries < 64 && nd; tries++) {
        size_t len;
        const char *p = fd_benign_doc(b, xs(seed) % nd, &len);
        if (len < 16)
            continue;
        size_t at = xs(seed) % len, l;
        while (at < len && ((unsigned char)p[at] & 0xC0) == 0x80)
            at++;
        int32_t cps[8];
        int got = 0;
        for (size_t i = at; i < len && got < k; i += l ? l : 1) {
            int32_t cp = fd_utf8_decode(p, len, i, &l);
            if (!is_han(cp))
                break;
            cps[got++] = cp;
        }
        if (got == k) {
            for (int i = 0; i < k; i++)
                put_cp(out, (uint32_t)cps[i]);
            return 1;
        }
    }
    return 0;
}

/* A Latin word of 2–10 letters of the corpus (is, system, http). */
static int everyday_latin(const fd_benign *b, uint64_t *seed, FILE *out)
{
    size_t nd = fd_benign_docs(b);
    for (int tries = 0; tries < 64 && nd; tries++) {
        size_t len;
        const char *p = fd_benign_doc(b, xs(seed) % nd, &len);
        if (!len)
            continue;
        size_t at = xs(seed) % len;
        while (at < len && !(p[at] >= 'a' && p[at] <= 'z'))
            at++;
        while (at > 0 && p[at - 1] >= 'a' && p[at - 1] <= 'z')
            at--;
        size_t e = at;
        while (e < len && p[e] >= 'a' && p[e] <= 'z')
            e++;
        if (e - at >= 2 && e - at <= 10 && (e == len || (unsigned char)p[e] < 0x80)) {
            fwrite(p + at, 1, e - at, out);
            return 1;
        }
    }
    return 0;
}

static int cmd_list(size_t n, uint64_t seed, char **paths, int np)
{
    fd_benign *b = corpus(paths, np);
    if (!b || !fd_benign_docs(b)) {
        fprintf(stderr, "fd_importbench: no corpus text\n");
        fd_benign_free(b);
        return 1;
    }
    /* Han characters as often as the corpus uses them. */
    uint32_t *han = NULL;
    size_t nhan = 0, cap = 0;
    for (size_t d = 0; d < fd_benign_docs(b); d++) {
        size_t len, l;
        const char *p = fd_benign_doc(b, d, &len);
        for (size_t i = 0; i < len; i += l ? l : 1) {
            int32_t cp = fd_utf8_decode(p, len, i, &l);
            if (!is_han(cp))
                continue;
            if (nhan == cap) {
                uint32_t *nh = realloc(han, (cap = cap ? 2 * cap : 65536) * sizeof *nh);
                if (!nh)
                    abort();
                han = nh;
            }
            han[nhan++] = (uint32_t)cp;
        }
    }
    if (!nhan) {
        fprintf(stderr, "fd_importbench: no Han characters in the corpus\n");
        fd_benign_free(b);
        return 1;
    }
    static const char *slang[] = {"qq", "vx",  "av",   "sm",      "gay", "fa",   "lun", "dafa",
                                  "tg", "xxx", "porn", "caonima", "sb",  "nmsl", "bt",  "3p"};
    seed = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        unsigned r = (unsigned)(xs(&seed) % 1000);
        if (r < 840) { /* 84 %: Han terms of 2–6 characters */
            int k = 2 + (int)(xs(&seed) % 5);
            for (int j = 0; j < k; j++)
                put_cp(stdout, han[xs(&seed) % nhan]);
        } else if (r < 900) { /* 6 %: everyday words and phrases */
            if (!everyday_han(b, &seed, 2 + (int)(xs(&seed) % 3), stdout))
                fputs("用户信息", stdout);
        } else if (r < 950) { /* 5 %: slang stems with digits or another stem */
            fputs(slang[xs(&seed) % 16], stdout);
            if (xs(&seed) % 2)
                printf("%u", (unsigned)(xs(&seed) % 1000));
            else
                fputs(slang[xs(&seed) % 16], stdout);
        } else if (r < 975) { /* 2.5 %: common English words */
            if (!everyday_latin(b, &seed, stdout))
                fputs("system", stdout);
        } else if (r < 985) { /* 1 %: numbers */
            printf("%u", (unsigned)(xs(&seed) % 100000));
        } else if (r < 992) { /* 0.7 %: single characters */
            put_cp(stdout, han[xs(&seed) % nhan]);
        } else if (r < 996) { /* 0.4 %: enclosed forms */
            put_cp(stdout, 0x3220 + (uint32_t)(xs(&seed) % 10));
        } else { /* 0.4 %: a letter and DEL, as found in a public list */
            putchar('a' + (int)(xs(&seed) % 26));
            putchar(0x7F);
        }
        putchar('\n');
    }
    free(han);
    fd_benign_free(b);
    return 0;
}

/* A field of /proc/self/status in KiB (VmRSS, VmHWM). */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':')
            v = strtol(line + fl + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Reset VmHWM to the current RSS (Linux >= 4.0). */
static void reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static fd_ruleset *load(const char *dir)
{
    fd_ruleset *rs = NULL;
    fd_diag d = FD_DIAG_INIT;
    int r = fd_ruleset_load(dir, &rs, &d);
    for (size_t i = 0; i < d.n && i < 5; i++)
        fprintf(stderr, "%s\n", d.lines[i]);
    fd_diag_free(&d);
    if (r)
        fprintf(stderr, "fd_importbench: %s: %s\n", dir, fd_strerror(r));
    return r ? NULL : rs;
}

static int memory_child(const char *dir, int reloads)
{
    long rss0 = status_kib("VmRSS");
    reset_hwm();
    double t0 = now_ms();
    fd_ruleset *rs = load(dir);
    if (!rs)
        return 1;
    double ms = now_ms() - t0;
    long peak = status_kib("VmHWM"), steady = status_kib("VmRSS");
    printf("rules %zu, compile %.0f ms (one compile: %.0f ms)\n", fd_ruleset_nrules(rs), ms,
           fd_ruleset_compile_ms(rs));
    printf("RSS before %ld KiB; peak of the compile %ld KiB; steady %ld KiB; peak/steady %.2f\n",
           rss0, peak, steady, (double)peak / (double)steady);
    long first = 0, last = 0, hi = 0, rpeak = 0;
    double rms = 0;
    reset_hwm();
    for (int i = 0; i < reloads; i++) {
        t0 = now_ms();
        fd_ruleset *nrs = load(dir);
        if (!nrs) {
            fd_ruleset_unref(rs);
            return 1;
        }
        rms += now_ms() - t0;
        fd_ruleset_unref(rs);
        rs = nrs;
        long v = status_kib("VmRSS");
        if (i == 0)
            first = v;
        last = v;
        if (v > hi)
            hi = v;
    }
    rpeak = status_kib("VmHWM");
    if (reloads)
        printf("%d reloads (%.0f ms each): RSS after the first %ld KiB, after the last %ld KiB "
               "(last/first %.2f), highest between %ld KiB; peak of the reloads %ld KiB\n",
               reloads, rms / reloads, first, last, (double)last / (double)first, hi, rpeak);
    fd_ruleset_unref(rs);
    return 0;
}

static int cmd_memory(const char *dir, int reloads)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        int r = memory_child(dir, reloads);
        fflush(stdout);
        _exit(r);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

typedef struct hit {
    uint32_t rule;
    size_t n;
} hit;

static int cmp_hit(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    return (y->n > x->n) - (y->n < x->n);
}

static int cmd_rate(const char *dir, char **paths, int np)
{
    fd_ruleset *rs = load(dir);
    fd_benign *b = rs ? corpus(paths, np) : NULL;
    fd_scratch *s = NULL;
    if (!b || fd_scratch_new(rs, &s)) {
        fd_benign_free(b);
        fd_ruleset_unref(rs);
        return 1;
    }
    size_t nr = fd_ruleset_nrules(rs), nd = fd_benign_docs(b), blocked = 0, flagged = 0;
    hit *h = calloc(nr ? nr : 1, sizeof *h);
    size_t *last = calloc(nr ? nr : 1, sizeof *last);
    fd_result res;
    fd_result_init(&res);
    for (size_t i = 0; i < nr && h; i++)
        h[i].rule = (uint32_t)i;
    for (size_t d = 0; d < nd && h && last; d++) {
        size_t len;
        const char *p = fd_benign_doc(b, d, &len);
        if (fd_scan(rs, s, p, len, &res))
            continue;
        blocked += res.decision == FD_BLOCK;
        flagged += res.decision == FD_FLAG;
        for (size_t m = 0; m < res.n; m++)
            if (!res.matches[m].suppressed && res.matches[m].action != FD_ALLOW &&
                last[res.matches[m].rule] != d + 1) {
                last[res.matches[m].rule] = d + 1;
                h[res.matches[m].rule].n++;
            }
    }
    printf("%zu paragraphs: %zu blocked (%.2f %%), %zu flagged (%.2f %%)\n", nd, blocked,
           nd ? 100.0 * blocked / nd : 0, flagged, nd ? 100.0 * flagged / nd : 0);
    if (h) {
        qsort(h, nr, sizeof *h, cmp_hit);
        size_t used = 0;
        for (size_t i = 0; i < nr && h[i].n; i++)
            used++;
        printf("rules that matched: %zu; most:", used);
        for (size_t i = 0; i < nr && i < 12 && h[i].n; i++)
            printf(" %s (%zu)", fd_ruleset_rule(rs, h[i].rule)->pattern, h[i].n);
        printf("\n");
    }
    free(h);
    free(last);
    fd_result_free(&res);
    fd_scratch_free(s);
    fd_benign_free(b);
    fd_ruleset_unref(rs);
    return 0;
}

static int cmd_plain(const char *path)
{
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf || !fd_utf8_valid(buf, len)) {
        fprintf(stderr, "fd_importbench: %s: unreadable or not UTF-8\n", path);
        free(buf);
        return 1;
    }
    fd_normbuf nb;
    fd_normbuf_init(&nb);
    printf("@category A1.8\n");
    for (char *p = buf, *end = buf + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end, *s = p;
        p = nl ? nl + 1 : end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        int ctl = 0;
        for (char *c = s; c < e; c++)
            ctl |= (unsigned char)*c < 0x20;
        if (ctl || s == e || fd_norm(s, (size_t)(e - s), FD_NORM_STRIP_SEP, &nb) || !nb.len)
            continue;
        if (strchr("#@/\\", *s))
            putchar('\\');
        fwrite(s, 1, (size_t)(e - s), stdout);
        putchar('\n');
    }
    fd_normbuf_free(&nb);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "plain"))
        return cmd_plain(argv[2]);
    if (argc >= 5 && !strcmp(argv[1], "list"))
        return cmd_list(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10), argv + 4,
                        argc - 4);
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "memory"))
        return cmd_memory(argv[2], argc == 4 ? atoi(argv[3]) : 20);
    if (argc >= 4 && !strcmp(argv[1], "rate"))
        return cmd_rate(argv[2], argv + 3, argc - 3);
    fprintf(stderr, "usage: fd_importbench list N SEED CORPUS...\n"
                    "       fd_importbench plain LIST\n"
                    "       fd_importbench memory RULEDIR [RELOADS]\n"
                    "       fd_importbench rate RULEDIR PATH...\n");
    return 64;
}
