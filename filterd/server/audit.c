/*
 * audit.c — see audit.h. The chain, the combining writer and recovery are
 * the engine's (auditlog.c); this file builds the records, maps them to
 * the responses that wait for them, and runs the log's life cycle.
 *
 * Cost per audited decision: one SHA-256 over the text (a per-worker
 * digest context, reused), the record formatted into a per-worker buffer
 * and copied into the per-worker batch; no allocation once those buffers
 * have grown to their working size. Cost per loop iteration: one commit,
 * which the engine turns into one write(2) shared by every worker that
 * commits at the same time.
 */
#include "audit.h"

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditlog.h"
#include "buf.h"
#include "conn.h"
#include "log.h"
#include "proto.h"

/* A response that waits for a record of this worker's batch. */
typedef struct pending {
    fd_conn *conn;
    uint64_t serial; /* conn->serial when queued: guards against a reused struct */
    size_t off;      /* its '{' in conn->out */
    size_t idlen;    /* length of '"id":ID,' after the '{' (0: no id) */
} pending;

struct fd_audit_worker {
    fd_audit_batch batch; /* this iteration's records */
    fd_buf body;          /* the record being formatted */
    pending *pend;        /* the responses that wait for the batch */
    size_t npend, cap;
    EVP_MD_CTX *md;     /* for the text's digest, reused */
    time_t ts_sec;      /* "YYYY-MM-DDTHH:MM:SS" of ts_sec, cached: */
    char ts_prefix[32]; /* gmtime_r() once per second, not per record */
};

struct fd_audit {
    fd_auditlog *log;
    const fd_config *cfg;
    const char *path;
    EVP_MD *sha256;     /* fetched once, shared read-only by the workers */
    atomic_int failing; /* a write-failure incident is going on (logged once) */
    /* --audit-fsync interval: a 1 s timer on the main loop hands the
     * fdatasync to libuv's thread pool so that accept never waits on it. */
    uv_timer_t timer;
    bool timer_started;
    uv_work_t sync_work;
    bool syncing;
    int sync_rc;
    uint64_t synced_records; /* records count at the last sync: skip idle syncs */
};

static const char *const level_names[] = {"block", "flag", "all"};
static const char *const text_names[] = {"none", "match", "full"};
static const char *const fsync_names[] = {"always", "interval", "never"};

#define FAILED_TAIL                                                                                \
    "\"error\":{\"code\":\"audit_failed\",\"message\":\"the audit record could not be written; "   \
    "no decision is given\"}}\n"

/* ---- records -------------------------------------------------------------- */

/* Whether --audit-level wants decision D. */
static bool level_wants(const fd_config *cfg, fd_action d)
{
    switch (cfg->audit_level) {
    case FD_AUDIT_BLOCK:
        return d == FD_BLOCK;
    case FD_AUDIT_FLAG:
        return d == FD_BLOCK || d == FD_FLAG;
    default:
        return true;
    }
}

/* '"ts":"2026-11-22T10:15:06.123456Z"' into BUF (>= 48 bytes); its length. */
static size_t format_ts(struct fd_audit_worker *aw, char *buf)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != aw->ts_sec || !aw->ts_prefix[0]) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(aw->ts_prefix, sizeof aw->ts_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        aw->ts_sec = ts.tv_sec;
    }
    return (size_t)snprintf(buf, 48, "\"ts\":\"%s.%06ldZ\"", aw->ts_prefix, ts.tv_nsec / 1000);
}

/* SHA-256 of DATA as 64 lowercase hex digits; 0 or -1. */
static int digest_hex(struct fd_audit_worker *aw, const EVP_MD *md, const char *data, size_t len,
                      char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestInit_ex(aw->md, md, NULL) != 1 || EVP_DigestUpdate(aw->md, data, len) != 1 ||
        EVP_DigestFinal_ex(aw->md, d, &n) != 1 || n != 32)
        return -1;
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

/* The members of a record common to checks and streams. */
typedef struct rec {
    const char *op;
    const char *id_json;
    size_t id_len;
    const char *stream; /* NULL: not a stream */
    size_t stream_len;
    const char *end;
    fd_action decision;
    const fd_match *matches;
    size_t nmatches, dropped;
    const char *text; /* for excerpts when EXCERPTS is NULL, and "text" */
    size_t len;
    const char *excerpts; /* streams: excerpts[exoff[i] .. exoff[i+1]) */
    const uint32_t *exoff;
    bool have_text; /* text holds the whole text (excerpts from it) */
    const char *sha256;
    uint64_t bytes;
    const fd_ruleset *rs;
    const char *meta;
    const struct ucred *peer;
    unsigned long long us;
} rec;

/* Format REC as the record body into aw->body (members after seq). */
static void format_body(struct fd_audit_worker *aw, const fd_config *cfg, const rec *r)
{
    fd_buf *b = &aw->body;
    b->len = 0;
    fd_buf_puts(b, "\"op\":\"");
    fd_buf_puts(b, r->op);
    fd_buf_puts(b, "\",\"id\":");
    if (r->id_json && r->id_len)
        fd_buf_append(b, r->id_json, r->id_len);
    else
        fd_buf_puts(b, "null");
    if (r->stream) {
        fd_buf_puts(b, ",\"stream\":");
        fd_buf_json_str(b, r->stream, r->stream_len);
        fd_buf_puts(b, ",\"end\":\"");
        fd_buf_puts(b, r->end ? r->end : "close");
        fd_buf_putc(b, '"');
    }
    fd_buf_puts(b, ",\"decision\":\"");
    fd_buf_puts(b, fd_action_name(r->decision));
    fd_buf_puts(b, "\",\"matches\":[");
    const fd_rulelist *rl = fd_ruleset_rules(r->rs);
    bool first = true;
    for (size_t i = 0; i < r->nmatches; i++) {
        const fd_match *m = &r->matches[i];
        if (m->action == FD_ALLOW || m->suppressed)
            continue; /* the matches that count, as in the response (SPEC §2) */
        const fd_rule *rule = fd_ruleset_rule(r->rs, m->rule);
        const fd_category *cat = fd_ruleset_category(r->rs, rule->category);
        const char *file = rule->file < rl->nfiles ? rl->files[rule->file] : "?";
        if (!first)
            fd_buf_putc(b, ',');
        first = false;
        fd_buf_puts(b, "{\"rule\":");
        fd_buf_json_str(b, rule->id, strlen(rule->id));
        fd_buf_puts(b, ",\"category\":");
        fd_buf_json_str(b, cat->id, strlen(cat->id));
        fd_buf_puts(b, ",\"action\":\"");
        fd_buf_puts(b, fd_action_name((fd_action)m->action));
        fd_buf_puts(b, "\",\"start\":");
        fd_buf_u64(b, m->start);
        fd_buf_puts(b, ",\"end\":");
        fd_buf_u64(b, m->end);
        /* "src":"FILE:LINE" (file names relative to the rule directory) */
        fd_buf_puts(b, ",\"src\":");
        fd_buf_json_str(b, file, strlen(file));
        if (!b->oom)
            b->len--; /* reopen the string to append ":LINE" */
        fd_buf_printf(b, ":%u\"", rule->line);
        if (cfg->audit_text != FD_AUDIT_TEXT_NONE) {
            const char *p = NULL;
            size_t n = 0;
            if (r->excerpts && r->exoff) {
                n = r->exoff[i + 1] - r->exoff[i];
                p = n ? r->excerpts + r->exoff[i] : NULL;
            } else if (r->have_text && m->end <= r->len && m->start <= m->end) {
                p = r->text + m->start;
                n = m->end - m->start;
            }
            if (p) {
                fd_buf_puts(b, ",\"excerpt\":");
                fd_buf_json_str(b, p, n);
            }
        }
        fd_buf_putc(b, '}');
    }
    fd_buf_putc(b, ']');
    if (r->dropped) {
        fd_buf_puts(b, ",\"dropped\":");
        fd_buf_u64(b, r->dropped);
    }
    fd_buf_puts(b, ",\"sha256\":\"");
    fd_buf_puts(b, r->sha256);
    fd_buf_puts(b, "\",\"bytes\":");
    fd_buf_u64(b, r->bytes);
    if (cfg->audit_text == FD_AUDIT_TEXT_FULL && r->have_text) {
        fd_buf_puts(b, ",\"text\":");
        fd_buf_json_str(b, r->text, r->len);
    }
    fd_buf_puts(b, ",\"rules\":\"");
    fd_buf_puts(b, fd_ruleset_version(r->rs));
    fd_buf_puts(b, "\",\"peer\":{\"pid\":");
    fd_buf_i64(b, r->peer ? (int64_t)r->peer->pid : 0);
    fd_buf_puts(b, ",\"uid\":");
    fd_buf_i64(b, r->peer ? (int64_t)(int32_t)r->peer->uid : -1);
    fd_buf_puts(b, ",\"gid\":");
    fd_buf_i64(b, r->peer ? (int64_t)(int32_t)r->peer->gid : -1);
    fd_buf_puts(b, "},\"meta\":");
    fd_buf_puts(b, r->meta ? r->meta : "null");
    fd_buf_puts(b, ",\"us\":");
    fd_buf_u64(b, r->us);
}

/*
 * Queue record R in W's batch and, when CONN is set, remember the response
 * at CONN->out[OFF] as waiting for it. Returns 0 or -1 (out of memory;
 * nothing queued).
 */
static int queue(fd_worker *w, const rec *r, fd_conn *conn, size_t off)
{
    fd_audit *a = w->srv->audit;
    struct fd_audit_worker *aw = w->audit;
    /* Room for the pending entry first: once the record is in the batch
     * nothing may fail any more. */
    if (conn && aw->npend == aw->cap) {
        size_t cap = aw->cap ? aw->cap * 2 : 64;
        pending *p = realloc(aw->pend, cap * sizeof *p);
        if (!p)
            return -1;
        aw->pend = p;
        aw->cap = cap;
    }
    format_body(aw, a->cfg, r);
    if (aw->body.oom) {
        aw->body.oom = false;
        fd_buf_free(&aw->body);
        return -1;
    }
    char head[48];
    size_t hl = format_ts(aw, head);
    if (fd_audit_batch_add(&aw->batch, head, hl, aw->body.data, aw->body.len) != 0)
        return -1;
    /* A burst of huge texts (--audit-text full) grew the body buffer: give
     * the memory back rather than keep it for the worker's lifetime. */
    if (aw->body.cap > (4u << 20))
        fd_buf_free(&aw->body);
    if (conn) {
        pending *p = &aw->pend[aw->npend++];
        p->conn = conn;
        p->serial = conn->serial;
        p->off = off;
        p->idlen = r->id_json && r->id_len ? r->id_len + 6 : 0; /* "id": + ID + , */
    }
    return 0;
}

int fd_audit_decision(fd_worker *w, const fd_audit_input *in)
{
    fd_audit *a = w->srv->audit;
    if (!a || !w->audit || !level_wants(a->cfg, in->res->decision))
        return 0;
    char hex[65];
    if (digest_hex(w->audit, a->sha256, in->text, in->len, hex) != 0)
        return -1;
    rec r = {
        .op = in->op ? in->op : "check",
        .id_json = in->id_json,
        .id_len = in->id_len,
        .decision = in->res->decision,
        .matches = in->res->matches,
        .nmatches = in->res->n,
        .dropped = in->res->dropped,
        .text = in->text,
        .len = in->len,
        .have_text = true,
        .sha256 = hex,
        .bytes = in->len,
        .rs = w->rs,
        .meta = in->meta,
        .peer = in->peer,
        .us = in->us,
    };
    return queue(w, &r, in->conn, in->resp_off);
}

int fd_audit_stream(fd_worker *w, const fd_audit_stream_input *in)
{
    fd_audit *a = w->srv->audit;
    if (!a || !w->audit || !level_wants(a->cfg, in->decision))
        return 0;
    rec r = {
        .op = "stream",
        .id_json = in->id_json,
        .id_len = in->id_len,
        .stream = in->stream ? in->stream : "",
        .stream_len = in->stream ? in->stream_len : 0,
        .end = in->end,
        .decision = in->decision,
        .matches = in->matches,
        .nmatches = in->nmatches,
        .dropped = in->dropped,
        .text = in->text,
        .len = in->len,
        .excerpts = in->excerpts,
        .exoff = in->exoff,
        .have_text = in->text != NULL,
        .sha256 = in->sha256,
        .bytes = in->bytes,
        .rs = in->rs ? in->rs : w->rs,
        .meta = in->meta,
        .peer = in->peer,
        .us = in->us,
    };
    return queue(w, &r, in->conn, in->resp_off);
}

/* ---- commit --------------------------------------------------------------- */

/*
 * The batch was not written: turn every response that waited for it into
 * audit_failed, in place in its connection's output. Entries are undone
 * last first, so rewriting one line (which may change its length) never
 * moves a line that is still to be rewritten.
 */
static void fail_pending(fd_worker *w, struct fd_audit_worker *aw)
{
    static const char tail[] = FAILED_TAIL;
    const size_t tl = sizeof tail - 1;
    for (size_t i = aw->npend; i-- > 0;) {
        const pending *p = &aw->pend[i];
        fd_conn *c = p->conn;
        if (c->closing || c->serial != p->serial)
            continue; /* nobody will read it */
        fd_buf *out = &c->out;
        if (p->off + 1 + p->idlen > out->len)
            continue;
        char *line = out->data + p->off;
        char *nl = memchr(line, '\n', out->len - p->off);
        if (!nl || line[0] != '{')
            continue;
        size_t from = p->off + 1 + p->idlen; /* keep '{' and '"id":ID,' */
        size_t to = (size_t)(nl - out->data) + 1;
        size_t rest = out->len - to;
        if (tl > to - from && fd_buf_reserve(out, tl - (to - from)) != 0) {
            /* Cannot even say so: drop the connection rather than let a
             * decision without its record leave. */
            fd_error("conn %llu: out of memory writing audit_failed; closing",
                     (unsigned long long)c->serial);
            out->len = 0;
            fd_conn_close(c);
            continue;
        }
        memmove(out->data + from + tl, out->data + to, rest);
        memcpy(out->data + from, tail, tl);
        out->len = from + tl + rest;
        fd_stat_add(&w->stats.errors[FD_PERR_AUDIT_FAILED], 1);
    }
}

int fd_audit_commit(fd_worker *w)
{
    struct fd_audit_worker *aw = w->audit;
    if (!aw || aw->batch.n == 0)
        return 0;
    fd_audit *a = w->srv->audit;
    int rc = fd_auditlog_commit(a->log, &aw->batch);
    if (rc == 0) {
        int one = 1;
        if (atomic_load_explicit(&a->failing, memory_order_relaxed) &&
            atomic_compare_exchange_strong(&a->failing, &one, 0))
            fd_info("audit log %s: writes work again; decisions are answered again", a->path);
    } else {
        int zero = 0;
        if (atomic_compare_exchange_strong(&a->failing, &zero, 1))
            fd_error("audit log %s: write failed (device full, file size limit or I/O error); "
                     "answering audit_failed instead of decisions until writes work again",
                     a->path);
        fail_pending(w, aw);
    }
    fd_audit_batch_clear(&aw->batch);
    aw->npend = 0;
    return rc ? -1 : 0;
}

void fd_audit_finish(fd_worker *w)
{
    if (!w->audit)
        return;
    w->audit->npend = 0; /* their connections are freed: nothing to rewrite */
    fd_audit_commit(w);
}

/* ---- per worker ----------------------------------------------------------- */

int fd_audit_worker_init(fd_worker *w)
{
    if (!w->srv->audit)
        return 0;
    struct fd_audit_worker *aw = calloc(1, sizeof *aw);
    if (!aw)
        return -1;
    fd_audit_batch_init(&aw->batch);
    aw->md = EVP_MD_CTX_new();
    if (!aw->md) {
        free(aw);
        return -1;
    }
    w->audit = aw;
    return 0;
}

void fd_audit_worker_free(fd_worker *w)
{
    struct fd_audit_worker *aw = w->audit;
    if (!aw)
        return;
    fd_audit_batch_free(&aw->batch);
    fd_buf_free(&aw->body);
    free(aw->pend);
    EVP_MD_CTX_free(aw->md);
    free(aw);
    w->audit = NULL;
}

/* ---- life cycle (main thread) --------------------------------------------- */

static fd_audit_fsync engine_fsync(fd_cfg_audit_fsync f)
{
    switch (f) {
    case FD_FSYNC_ALWAYS:
        return FD_AUDIT_FSYNC_ALWAYS;
    case FD_FSYNC_NEVER:
        return FD_AUDIT_FSYNC_NEVER;
    default:
        return FD_AUDIT_FSYNC_INTERVAL;
    }
}

int fd_audit_open(fd_server *srv)
{
    const fd_config *cfg = srv->cfg;
    if (!cfg->audit_path) {
        fd_info("audit log off (no --audit): decisions are not recorded");
        return 0;
    }
    fd_audit *a = calloc(1, sizeof *a);
    if (!a) {
        fd_error("audit log: out of memory");
        return -1;
    }
    a->cfg = cfg;
    a->path = cfg->audit_path;
    a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!a->sha256) {
        fd_error("audit log: SHA-256 is not available from libcrypto");
        free(a);
        return -1;
    }
    fd_diag warn = FD_DIAG_INIT;
    int rc = fd_auditlog_open(cfg->audit_path, engine_fsync(cfg->audit_fsync), &a->log, &warn);
    for (size_t i = 0; i < warn.n; i++) {
        if (rc)
            fd_error("%s", warn.lines[i]);
        else
            fd_warn("%s", warn.lines[i]);
    }
    fd_diag_free(&warn);
    if (rc != 0) {
        fd_error("cannot open the audit log %s (%s); refusing to start", cfg->audit_path,
                 rc == FD_ENOMEM ? "out of memory" : "see above");
        EVP_MD_free(a->sha256);
        free(a);
        return -1;
    }
    fd_auditlog_stats st;
    fd_auditlog_get_stats(a->log, &st);
    fd_info("audit log %s: level %s, text %s, fsync %s; chain continues at seq %llu",
            strcmp(cfg->audit_path, "-") == 0 ? "(stdout)" : cfg->audit_path,
            level_names[cfg->audit_level], text_names[cfg->audit_text],
            fsync_names[cfg->audit_fsync], (unsigned long long)st.next_seq);
    a->synced_records = 0;
    srv->audit = a;
    return 0;
}

static void sync_work_cb(uv_work_t *req)
{
    fd_audit *a = req->data;
    a->sync_rc = fd_auditlog_sync(a->log);
}

static void sync_after_cb(uv_work_t *req, int status)
{
    fd_audit *a = req->data;
    a->syncing = false;
    if (status == 0 && a->sync_rc != 0)
        fd_warn("audit log %s: fdatasync failed", a->path);
}

static void timer_cb(uv_timer_t *t)
{
    fd_server *srv = t->data;
    fd_audit *a = srv->audit;
    if (a->syncing || srv->stopping)
        return;
    fd_auditlog_stats st;
    fd_auditlog_get_stats(a->log, &st);
    if (st.records == a->synced_records)
        return; /* nothing written since the last sync */
    a->synced_records = st.records;
    a->sync_work.data = a;
    if (uv_queue_work(srv->loop, &a->sync_work, sync_work_cb, sync_after_cb) == 0)
        a->syncing = true;
}

void fd_audit_start(fd_server *srv)
{
    fd_audit *a = srv->audit;
    if (!a || srv->cfg->audit_fsync != FD_FSYNC_INTERVAL || strcmp(a->path, "-") == 0)
        return;
    uv_timer_init(srv->loop, &a->timer);
    a->timer.data = srv;
    uv_timer_start(&a->timer, timer_cb, 1000, 1000);
    uv_unref((uv_handle_t *)&a->timer);
    a->timer_started = true;
}

void fd_audit_reopen(fd_server *srv)
{
    fd_audit *a = srv->audit;
    if (!a) {
        fd_info("SIGUSR1: no audit log configured, nothing to reopen");
        return;
    }
    if (strcmp(a->path, "-") == 0) {
        fd_info("SIGUSR1: the audit log is standard output, nothing to reopen");
        return;
    }
    fd_diag warn = FD_DIAG_INIT;
    if (fd_auditlog_reopen(a->log, &warn) == 0) {
        fd_auditlog_stats st;
        fd_auditlog_get_stats(a->log, &st);
        fd_info("SIGUSR1: audit log %s reopened; chain continues at seq %llu", a->path,
                (unsigned long long)st.next_seq);
    } else {
        for (size_t i = 0; i < warn.n; i++)
            fd_error("%s", warn.lines[i]);
        fd_error("SIGUSR1: audit log %s not reopened; still writing to the old file", a->path);
    }
    fd_diag_free(&warn);
}

static void free_audit(fd_audit *a)
{
    EVP_MD_free(a->sha256);
    free(a);
}

static void timer_closed_cb(uv_handle_t *h)
{
    fd_server *srv = h->data;
    free_audit(srv->audit);
    srv->audit = NULL;
}

void fd_audit_close(fd_server *srv)
{
    fd_audit *a = srv->audit;
    if (!a)
        return;
    fd_auditlog_stats st;
    fd_auditlog_get_stats(a->log, &st);
    fd_auditlog_close(a->log); /* fdatasync unless --audit-fsync never */
    a->log = NULL;
    fd_info("audit log %s closed: %llu records in %llu writes, %llu failed writes", a->path,
            (unsigned long long)st.records, (unsigned long long)st.writes,
            (unsigned long long)st.errors);
    if (a->timer_started) {
        /* srv->audit stays set until the close callback frees it. */
        uv_close((uv_handle_t *)&a->timer, timer_closed_cb);
        return;
    }
    free_audit(a);
    srv->audit = NULL;
}

void fd_audit_stats(fd_server *srv, fd_stats_extra *x)
{
    fd_audit *a = srv->audit;
    x->audit_enabled = a && a->log;
    if (!x->audit_enabled)
        return;
    fd_auditlog_stats st;
    fd_auditlog_get_stats(a->log, &st);
    x->audit_records = st.records;
    x->audit_writes = st.writes;
    x->audit_errors = st.errors;
    x->audit_next_seq = st.next_seq;
    x->audit_failing = atomic_load(&a->failing);
}
