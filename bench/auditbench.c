/*
 * auditbench.c — fd_auditbench: `filterctl audit report` at scale (issue
 * #20). Generates N audit records as filterd writes them (a valid hash
 * chain across rotated files, the older ones gzip-compressed as logrotate's
 * compress leaves them), then runs filterctl on them and measures each
 * run's wall time, CPU time and peak RSS (wait4's rusage of the child):
 *
 *   stats   `audit stats --json` (the baseline: the same reading and
 *           parsing, plain counters)
 *   report  `audit report --json --html OUT`
 *   find    `audit find --id ID` (a complaint look-up over everything)
 *   verify  `audit verify` over the plain files only (it reads no .gz)
 *
 * The records: a year (2026) of traffic, ~88 % allow, 8 % flag, 4 % block;
 * flags and blocks carry 1-3 matches of 240 synthetic rules over the
 * categories A1.1-A5.x; ops check 80 %, stream 15 %, proxy 5 %; the first
 * 10 % of the records have no `api` (written before the field existed),
 * the others a mix; a new rule-set version each month; latencies mostly
 * 20-200 µs with a tail to 50 ms. Deterministic (fixed seed).
 *
 * usage: fd_auditbench --filterctl PATH [--records N] [--files K] [--gz K]
 *                      [--dir DIR] [--rules DIR] [--html OUT] [--json OUT] [--keep]
 */
#include <errno.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double unit(void)
{
    return (double)(next() >> 11) / 9007199254740992.0;
}

static void hex(const unsigned char *md, char out[65])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = d[md[i] >> 4];
        out[2 * i + 1] = d[md[i] & 15];
    }
    out[64] = '\0';
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct out {
    FILE *plain;
    gzFile gz;
} out;

static void out_write(out *o, const char *s, size_t n)
{
    if (o->gz) {
        if (gzwrite(o->gz, s, (unsigned)n) != (int)n) {
            fprintf(stderr, "fd_auditbench: gzwrite failed\n");
            exit(1);
        }
    } else if (fwrite(s, 1, n, o->plain) != n) {
        fprintf(stderr, "fd_auditbench: write failed: %s\n", strerror(errno));
        exit(1);
    }
}

static const char *const apis[] = {"ndjson",  "http",   "openai",  "azure",
                                   "litellm", "aliyun", "portkey", "proxy"};
static const double api_w[] = {0.30, 0.10, 0.30, 0.08, 0.08, 0.06, 0.04, 0.04};

/* Generate N records into FILES files under DIR (the first GZ of them
 * compressed); fills PATHS (caller frees). */
static void generate(uint64_t n, int files, int gz, const char *dir, char **paths)
{
    char prev[65];
    memset(prev, '0', 64);
    prev[64] = '\0';
    const int64_t start = 1767225600; /* 2026-01-01T00:00:00Z */
    const double span_us = 365.0 * 86400e6;
    char line[2048], matches[1024], rs[65];
    uint64_t per = (n + (uint64_t)files - 1) / (uint64_t)files, seq = 0;
    for (int f = 0; f < files; f++) {
        paths[f] = malloc(strlen(dir) + 64);
        /* logrotate's dateext names: oldest first in lexical order; the
         * newest file is audit.log itself */
        if (f == files - 1)
            sprintf(paths[f], "%s/audit.log", dir);
        else
            sprintf(paths[f], "%s/audit.log-%04d%s", dir, f + 1, f < gz ? ".gz" : "");
        out o = {0};
        if (f < gz)
            o.gz = gzopen(paths[f], "wb1");
        else
            o.plain = fopen(paths[f], "w");
        if (!o.gz && !o.plain) {
            fprintf(stderr, "fd_auditbench: %s: %s\n", paths[f], strerror(errno));
            exit(1);
        }
        for (uint64_t k = 0; k < per && seq < n; k++) {
            seq++;
            int64_t t_us = (int64_t)((double)(seq - 1) * span_us / (double)n);
            time_t t = (time_t)(start + t_us / 1000000);
            struct tm tm;
            gmtime_r(&t, &tm);
            double u = unit();
            const char *dec = u < 0.88 ? "allow" : u < 0.96 ? "flag" : "block";
            double o_u = unit();
            const char *op = o_u < 0.80 ? "check" : o_u < 0.95 ? "stream" : "proxy";
            size_t mlen = 0;
            matches[0] = '\0';
            if (dec[0] != 'a') {
                int nm = 1 + (int)(next() % 3);
                for (int m = 0; m < nm; m++) {
                    int r = (int)(next() % 240);
                    int a = 1 + r % 5, c = 1 + (r / 5) % 8;
                    mlen += (size_t)snprintf(
                        matches + mlen, sizeof matches - mlen,
                        "%s{\"rule\":\"r-A%d.%d-%03d\",\"category\":\"A%d.%d\",\"action\":\"%s\","
                        "\"start\":%d,\"end\":%d,\"src\":\"A%d/A%d.%d.rules:%d\","
                        "\"excerpt\":\"\\u2026match %d\\u2026\"}",
                        m ? "," : "", a, c, r, a, c, dec, 10 * m, 10 * m + 6, a, a, c, 3 + r, r);
                }
            }
            unsigned char md[32];
            char sha[65];
            uint64_t x[4] = {next(), next(), next(), next()};
            memcpy(md, x, 32);
            hex(md, sha);
            /* a new rule set each month */
            unsigned char rmd[32];
            char rsrc[32];
            snprintf(rsrc, sizeof rsrc, "ruleset-%d", tm.tm_mon);
            SHA256((const unsigned char *)rsrc, strlen(rsrc), rmd);
            hex(rmd, rs);
            char api[48] = "";
            if (seq > n / 10) {
                double a = unit(), acc = 0;
                int i = 0;
                for (; i < 7; i++) {
                    acc += api_w[i];
                    if (a < acc)
                        break;
                }
                snprintf(api, sizeof api, "\"api\":\"%s\",", op[0] == 'p' ? "proxy" : apis[i]);
            }
            double lu = unit();
            uint64_t us = lu < 0.97 ? 20 + (uint64_t)(180 * unit() * unit())
                                    : 200 + (uint64_t)(50000 * unit() * unit() * unit());
            int len = snprintf(
                line, sizeof line,
                "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\",\"seq\":%llu,\"op\":\"%s\",%s"
                "\"id\":\"req-%llu\",%s%s%s\"decision\":\"%s\",\"matches\":[%s],"
                "\"sha256\":\"%s\",\"bytes\":%d,\"rules\":\"%s\",\"peer\":{\"pid\":%d,"
                "\"uid\":998,\"gid\":998},\"meta\":{\"user\":\"u-%04x\"},\"us\":%llu,"
                "\"prev\":\"%s\"}",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                (int)(t_us % 1000000), (unsigned long long)seq, op, api, (unsigned long long)seq,
                op[0] == 's' ? "\"stream\":\"s-" : "", op[0] == 's' ? "1\"," : "",
                op[0] == 's' ? "\"end\":\"close\"," : "", dec, matches, sha,
                (int)(50 + next() % 4000), rs, 4000 + (int)(next() % 8), (unsigned)(next() % 65536),
                (unsigned long long)us, prev);
            SHA256((const unsigned char *)line, (size_t)len, md);
            hex(md, prev);
            line[len++] = '\n';
            out_write(&o, line, (size_t)len);
        }
        if (o.gz ? gzclose(o.gz) != Z_OK : fclose(o.plain) != 0) {
            fprintf(stderr, "fd_auditbench: %s: close failed\n", paths[f]);
            exit(1);
        }
    }
}

typedef struct run {
    const char *name;
    double wall, user, sys;
    long maxrss_kib;
    int status;
} run;

/* Run ARGV with stdout to /dev/null; measure it. */
static run measure(const char *name, char **argv)
{
    run r = {.name = name};
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &st, 0, &ru) != pid) {
        fprintf(stderr, "fd_auditbench: cannot run %s\n", argv[0]);
        exit(1);
    }
    r.wall = now() - t0;
    r.user = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    r.sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    r.maxrss_kib = ru.ru_maxrss;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

int main(int argc, char **argv)
{
    const char *filterctl = NULL, *dir = NULL, *html = NULL, *json = NULL, *rules = "rules";
    uint64_t n = 10000000;
    int files = 10, gz = 8, keep = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keep") == 0) {
            keep = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "fd_auditbench: %s needs a value\n", a);
            return 64;
        }
        i++;
        if (strcmp(a, "--filterctl") == 0)
            filterctl = v;
        else if (strcmp(a, "--records") == 0)
            n = strtoull(v, NULL, 10);
        else if (strcmp(a, "--files") == 0)
            files = atoi(v);
        else if (strcmp(a, "--gz") == 0)
            gz = atoi(v);
        else if (strcmp(a, "--dir") == 0)
            dir = v;
        else if (strcmp(a, "--rules") == 0)
            rules = v;
        else if (strcmp(a, "--html") == 0)
            html = v;
        else if (strcmp(a, "--json") == 0)
            json = v;
        else {
            fprintf(stderr, "fd_auditbench: unknown option %s\n", a);
            return 64;
        }
    }
    if (!filterctl || n == 0 || files < 1 || gz < 0 || gz >= files) {
        fprintf(stderr, "usage: fd_auditbench --filterctl PATH [--records N] [--files K] "
                        "[--gz K<FILES] [--dir DIR] [--rules DIR] [--html OUT] [--json OUT] "
                        "[--keep]\n");
        return 64;
    }
    char tmpl[] = "/tmp/fd_auditbench.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) {
        perror("mkdtemp");
        return 1;
    }
    mkdir(dir, 0755);
    char **paths = calloc((size_t)files, sizeof *paths);
    double t0 = now();
    generate(n, files, gz, dir, paths);
    double gen = now() - t0;
    uint64_t bytes = 0;
    for (int f = 0; f < files; f++) {
        struct stat st;
        if (stat(paths[f], &st) == 0)
            bytes += (uint64_t)st.st_size;
    }
    printf("generated %llu records in %d files (%d gz), %.1f MiB on disk, in %.1f s: %s\n",
           (unsigned long long)n, files, gz, bytes / 1048576.0, gen, dir);
    fflush(stdout);

    char htmlbuf[4200];
    if (!html) {
        snprintf(htmlbuf, sizeof htmlbuf, "%s/report.html", dir);
        html = htmlbuf;
    }
    char **av = calloc((size_t)files + 16, sizeof *av);
    run runs[4];
    int nr = 0, k;
    /* stats: the baseline */
    k = 0;
    av[k++] = (char *)filterctl;
    av[k++] = "audit";
    av[k++] = "stats";
    av[k++] = "--json";
    for (int f = 0; f < files; f++)
        av[k++] = paths[f];
    av[k] = NULL;
    runs[nr++] = measure("stats", av);
    k = 0;
    av[k++] = (char *)filterctl;
    av[k++] = "audit";
    av[k++] = "report";
    av[k++] = "--json";
    av[k++] = "--html";
    av[k++] = (char *)html;
    av[k++] = "--rules";
    av[k++] = (char *)rules;
    for (int f = 0; f < files; f++)
        av[k++] = paths[f];
    av[k] = NULL;
    runs[nr++] = measure("report", av);
    char id[64];
    snprintf(id, sizeof id, "req-%llu", (unsigned long long)(n / 2 + 1));
    k = 0;
    av[k++] = (char *)filterctl;
    av[k++] = "audit";
    av[k++] = "find";
    av[k++] = "--id";
    av[k++] = id;
    for (int f = 0; f < files; f++)
        av[k++] = paths[f];
    av[k] = NULL;
    runs[nr++] = measure("find --id", av);
    k = 0;
    av[k++] = (char *)filterctl;
    av[k++] = "audit";
    av[k++] = "verify";
    for (int f = gz; f < files; f++)
        av[k++] = paths[f];
    av[k] = NULL;
    runs[nr] = measure("verify (plain files)", av);
    runs[nr].status = runs[nr].status == 1 ? 0 : runs[nr].status; /* its chain starts mid-way */
    nr++;

    /* CPU time is the comparable figure on a shared machine: wall time
     * includes whatever else ran */
    printf("\n%-22s %9s %9s %9s %12s %13s %s\n", "run", "wall s", "user s", "sys s", "peak RSS",
           "CPU vs stats", "exit");
    double base = runs[0].user + runs[0].sys;
    for (int i = 0; i < nr; i++)
        printf("%-22s %9.2f %9.2f %9.2f %8.1f MiB %12.2fx %d\n", runs[i].name, runs[i].wall,
               runs[i].user, runs[i].sys, runs[i].maxrss_kib / 1024.0,
               (runs[i].user + runs[i].sys) / base, runs[i].status);
    printf("\nreport: %s (%.2f µs CPU per record)\n", html,
           (runs[1].user + runs[1].sys) * 1e6 / (double)n);
    if (json) {
        FILE *j = fopen(json, "w");
        if (j) {
            fprintf(j,
                    "{\"records\":%llu,\"files\":%d,\"gz_files\":%d,\"bytes\":%llu,"
                    "\"generate_s\":%.2f,\"report_html\":\"%s\",\"runs\":[",
                    (unsigned long long)n, files, gz, (unsigned long long)bytes, gen, html);
            for (int i = 0; i < nr; i++)
                fprintf(j,
                        "%s{\"run\":\"%s\",\"wall_s\":%.3f,\"user_s\":%.3f,\"sys_s\":%.3f,"
                        "\"peak_rss_kib\":%ld,\"cpu_vs_stats\":%.3f,\"exit\":%d}",
                        i ? "," : "", runs[i].name, runs[i].wall, runs[i].user, runs[i].sys,
                        runs[i].maxrss_kib, (runs[i].user + runs[i].sys) / base, runs[i].status);
            fprintf(j, "]}\n");
            fclose(j);
        }
    }
    int bad =
        runs[0].status != 0 || runs[1].status != 0 || runs[2].status != 0 || runs[3].status != 0;
    if (!keep) {
        for (int f = 0; f < files; f++)
            unlink(paths[f]);
        rmdir(dir); /* fails, rightly, when the report was written into it */
    }
    for (int f = 0; f < files; f++)
        free(paths[f]);
    free(paths);
    free(av);
    return bad;
}
