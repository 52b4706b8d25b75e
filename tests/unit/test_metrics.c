/*
 * test_metrics.c — the Prometheus exposition (metrics.h). promtool checks
 * the daemon's real output in the integration tests; here: the buckets,
 * the exact text of each family, escaping, cumulative histograms.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "metrics.h"

Test(metrics, buckets)
{
    cr_assert_eq(fd_stats_hist_us[0], 10);
    cr_assert_eq(fd_stats_hist_us[FD_METRICS_BUCKETS - 1], 1000000);
    for (int i = 1; i < FD_METRICS_BUCKETS; i++)
        cr_assert_gt(fd_stats_hist_us[i], fd_stats_hist_us[i - 1]);
    cr_assert_eq(fd_stats_hist_bucket(0), 0);
    cr_assert_eq(fd_stats_hist_bucket(10), 0);
    cr_assert_eq(fd_stats_hist_bucket(11), 1);
    cr_assert_eq(fd_stats_hist_bucket(25), 1);
    cr_assert_eq(fd_stats_hist_bucket(999999), FD_METRICS_BUCKETS - 1);
    cr_assert_eq(fd_stats_hist_bucket(1000000), FD_METRICS_BUCKETS - 1);
    cr_assert_eq(fd_stats_hist_bucket(1000001), FD_METRICS_BUCKETS);
    cr_assert_eq(fd_stats_hist_bucket(UINT64_MAX), FD_METRICS_BUCKETS);
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

Test(metrics, exposition)
{
    static const char *const apis[] = {"ndjson", "http"};
    static const char *const ops[] = {"check", "reload"};
    static const uint64_t requests[] = {1, 2, 3, 4};
    static const char *const cats[] = {"A1.4", "we\"ird\\"};
    static const uint64_t matches[] = {5, 6, 7, 8};
    fd_metrics m = {
        .apis = apis,
        .napis = 2,
        .ops = ops,
        .nops = 2,
        .requests = requests,
        .decisions = {10, 11, 12},
        .cats = cats,
        .ncats = 2,
        .matches = matches,
        .lat_sum_us = 1500001,
        .bytes_scanned = 99,
        .connections = 3,
        .streams = 1,
        .rules = 42,
        .ruleset_version = "abc",
        .reloads_ok = 2,
        .reloads_failed = 1,
        .audit_records = 33,
        .audit_failures = 0,
        .version = "0.1.0",
        .hyperscan = "5.4.11 2024-07-04",
    };
    m.lat[0] = 1;
    m.lat[3] = 2;
    m.lat[FD_METRICS_BUCKETS] = 4;
    fd_buf out = FD_BUF_INIT;
    fd_metrics_write(&out, &m);
    fd_buf_putc(&out, '\0');
    const char *t = out.data;
    const char *want[] = {
        "# TYPE filterd_requests_total counter",
        "filterd_requests_total{api=\"ndjson\",op=\"check\"} 1",
        "filterd_requests_total{api=\"http\",op=\"reload\"} 4",
        "filterd_decisions_total{decision=\"block\"} 12",
        "filterd_matches_total{category=\"A1.4\",action=\"block\"} 6",
        "filterd_matches_total{category=\"we\\\"ird\\\\\",action=\"flag\"} 7",
        "# TYPE filterd_request_duration_seconds histogram",
        "filterd_request_duration_seconds_bucket{le=\"0.000010\"} 1",
        "filterd_request_duration_seconds_bucket{le=\"0.000025\"} 1",
        "filterd_request_duration_seconds_bucket{le=\"0.000100\"} 3",
        "filterd_request_duration_seconds_bucket{le=\"1\"} 3",
        "filterd_request_duration_seconds_bucket{le=\"+Inf\"} 7",
        "filterd_request_duration_seconds_sum 1.500001",
        "filterd_request_duration_seconds_count 7",
        "filterd_bytes_scanned_total 99",
        "# TYPE filterd_connections gauge",
        "filterd_connections 3",
        "filterd_streams 1",
        "filterd_rules 42",
        "filterd_ruleset_info{version=\"abc\"} 1",
        "filterd_reloads_total{result=\"ok\"} 2",
        "filterd_reloads_total{result=\"failed\"} 1",
        "filterd_audit_records_total 33",
        "filterd_audit_failures_total 0",
        "filterd_build_info{version=\"0.1.0\",hyperscan=\"5.4.11 2024-07-04\"} 1",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(has_line(t, want[i]), "missing line: %s\n%s", want[i], t);
    cr_assert_eq(t[strlen(t) - 1], '\n');
    fd_buf_free(&out);
}
