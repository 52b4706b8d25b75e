/*
 * metrics.c — see metrics.h.
 */
#include "metrics.h"

#include <string.h>

const uint64_t fd_metrics_bucket_us[FD_METRICS_BUCKETS] = {
    10,   25,    50,    100,   250,    500,    1000,   2500,
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

unsigned fd_metrics_bucket(uint64_t us)
{
    unsigned b = 0;
    while (b < FD_METRICS_BUCKETS && us > fd_metrics_bucket_us[b])
        b++;
    return b;
}

/* A label value: '\\', '"' and newline escaped (the exposition format's
 * only escapes); anything else, UTF-8 included, as is. */
static void label(fd_buf *out, const char *name, const char *v)
{
    fd_buf_puts(out, name);
    fd_buf_puts(out, "=\"");
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            fd_buf_puts(out, "\\\\");
        else if (*p == '"')
            fd_buf_puts(out, "\\\"");
        else if (*p == '\n')
            fd_buf_puts(out, "\\n");
        else
            fd_buf_putc(out, *p);
    }
    fd_buf_putc(out, '"');
}

static void family(fd_buf *out, const char *name, const char *type, const char *help)
{
    fd_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(fd_buf *out, const char *name, uint64_t v)
{
    fd_buf_puts(out, name);
    fd_buf_putc(out, ' ');
    fd_buf_u64(out, v);
    fd_buf_putc(out, '\n');
}

/* Seconds from microseconds, exactly ("0.000010", "1"). */
static void seconds(fd_buf *out, uint64_t us)
{
    fd_buf_u64(out, us / 1000000);
    if (us % 1000000)
        fd_buf_printf(out, ".%06u", (unsigned)(us % 1000000));
}

void fd_metrics_write(fd_buf *out, const fd_metrics *m)
{
    static const char *const decisions[3] = {"allow", "flag", "block"};

    family(out, "filterd_requests_total", "counter", "Requests answered, by interface and op.");
    for (size_t a = 0; a < m->napis; a++)
        for (size_t o = 0; o < m->nops; o++) {
            fd_buf_puts(out, "filterd_requests_total{");
            label(out, "api", m->apis[a]);
            fd_buf_putc(out, ',');
            label(out, "op", m->ops[o]);
            fd_buf_puts(out, "} ");
            fd_buf_u64(out, m->requests[a * m->nops + o]);
            fd_buf_putc(out, '\n');
        }

    family(out, "filterd_decisions_total", "counter", "Decisions given, by decision.");
    for (int d = 0; d < 3; d++) {
        fd_buf_puts(out, "filterd_decisions_total{");
        label(out, "decision", decisions[d]);
        fd_buf_puts(out, "} ");
        fd_buf_u64(out, m->decisions[d]);
        fd_buf_putc(out, '\n');
    }

    family(out, "filterd_matches_total", "counter",
           "Counted (block and flag) matches, by category and action.");
    for (size_t c = 0; c < m->ncats; c++)
        for (int a = 0; a < 2; a++) {
            fd_buf_puts(out, "filterd_matches_total{");
            label(out, "category", m->cats[c]);
            fd_buf_putc(out, ',');
            label(out, "action", a ? "block" : "flag");
            fd_buf_puts(out, "} ");
            fd_buf_u64(out, m->matches[c * 2 + (size_t)a]);
            fd_buf_putc(out, '\n');
        }

    family(out, "filterd_request_duration_seconds", "histogram",
           "Server time of a check, from its request to its answer.");
    uint64_t cum = 0;
    for (unsigned b = 0; b <= FD_METRICS_BUCKETS; b++) {
        cum += m->lat[b];
        fd_buf_puts(out, "filterd_request_duration_seconds_bucket{le=\"");
        if (b < FD_METRICS_BUCKETS)
            seconds(out, fd_stats_hist_us[b]);
        else
            fd_buf_puts(out, "+Inf");
        fd_buf_puts(out, "\"} ");
        fd_buf_u64(out, cum);
        fd_buf_putc(out, '\n');
    }
    fd_buf_puts(out, "filterd_request_duration_seconds_sum ");
    seconds(out, m->lat_sum_us);
    fd_buf_putc(out, '\n');
    sample(out, "filterd_request_duration_seconds_count", cum);

    family(out, "filterd_bytes_scanned_total", "counter", "Bytes of text scanned.");
    sample(out, "filterd_bytes_scanned_total", m->bytes_scanned);
    family(out, "filterd_connections", "gauge", "Client connections open now.");
    sample(out, "filterd_connections", m->connections);
    family(out, "filterd_streams", "gauge", "Streams open now.");
    sample(out, "filterd_streams", m->streams);
    family(out, "filterd_rules", "gauge", "Rules in the loaded rule set.");
    sample(out, "filterd_rules", m->rules);

    family(out, "filterd_ruleset_info", "gauge", "The loaded rule set's version (a hash).");
    fd_buf_puts(out, "filterd_ruleset_info{");
    label(out, "version", m->ruleset_version);
    fd_buf_puts(out, "} 1\n");

    family(out, "filterd_reloads_total", "counter", "Rule reloads, by result.");
    fd_buf_puts(out, "filterd_reloads_total{result=\"ok\"} ");
    fd_buf_u64(out, m->reloads_ok);
    fd_buf_puts(out, "\nfilterd_reloads_total{result=\"failed\"} ");
    fd_buf_u64(out, m->reloads_failed);
    fd_buf_putc(out, '\n');

    family(out, "filterd_audit_records_total", "counter", "Audit records written.");
    sample(out, "filterd_audit_records_total", m->audit_records);
    family(out, "filterd_audit_failures_total", "counter",
           "Audit writes that failed (their requests were answered audit_failed).");
    sample(out, "filterd_audit_failures_total", m->audit_failures);

    family(out, "filterd_build_info", "gauge", "filterd's version and its Hyperscan library's.");
    fd_buf_puts(out, "filterd_build_info{");
    label(out, "version", m->version);
    fd_buf_putc(out, ',');
    label(out, "hyperscan", m->hyperscan);
    fd_buf_puts(out, "} 1\n");
}
