/*
 * audit.c — see audit.h. The chain, the write and recovery are the
 * engine's (auditlog.c); this file formats the records, runs the writer
 * thread and hands the outcomes back as tickets.
 *
 * Cost per audited decision on the request path: one SHA-256 over the text
 * (a per-thread digest context, reused: no libcrypto allocation), the record formatted into a
 * per-thread buffer and copied into the current batch; no allocation once
 * those buffers have their working size, no lock, no system call.
 */
#include "audit.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditlog.h"
#include "buf.h"
#include "hash.h"
#include "log.h"

typedef struct ticket {
    fd_svc_done_fn cb;
    void *arg;
} ticket;

/* One thread's records of one loop iteration, and their tickets. */
typedef struct abatch {
    fd_audit_batch b;
    ticket *tk;
    size_t ntk, captk;
    int status;
    struct fd_svc_audit_thread *owner;
    struct abatch *next;
} abatch;

struct fd_svc_audit_thread {
    fd_svc_thread *t;
    abatch *cur;   /* being filled this iteration, or NULL */
    abatch *spare; /* recycled batches */
    abatch *done;  /* written (or failed), not yet completed: under a->mu */
    unsigned inflight;
    uv_async_t async; /* the writer hands batches back through it */
    bool async_open;
    fd_buf body;        /* the record being formatted */
    fd_sha256_reuse dg; /* for the text's digest: one context, reused */
    time_t ts_sec;      /* "YYYY-MM-DDTHH:MM:SS" of ts_sec, cached: */
    char ts_prefix[32]; /* gmtime_r() once per second, not per record */
};

struct fd_svc_audit {
    fd_auditlog *log;
    const fd_config *cfg;
    const char *path;
    uv_thread_t writer;
    bool writer_running;
    uv_mutex_t mu;
    uv_cond_t cv;
    abatch *qhead, *qtail; /* submitted, not yet written */
    bool stop;
    int failing; /* writer thread only: a write-failure incident goes on */
    atomic_int failing_pub;
    fd_audit_batch merged;               /* writer thread: several threads' batches as one */
    struct fd_svc_audit_thread **owners; /* writer thread: threads to wake */
    size_t maxowners;
};

static const char *const level_names[] = {"block", "flag", "all"};
static const char *const text_names[] = {"none", "match", "full"};
static const char *const fsync_names[] = {"always", "interval", "never"};

/* ---- records -------------------------------------------------------------- */

bool fd_svc_audit_wants(const fd_service *svc, fd_action d)
{
    if (!svc->audit)
        return false;
    switch (svc->cfg->audit_level) {
    case FD_AUDIT_BLOCK:
        return d == FD_BLOCK;
    case FD_AUDIT_FLAG:
        return d == FD_BLOCK || d == FD_FLAG;
    default:
        return true;
    }
}

/* '"ts":"2026-11-22T10:15:06.123456Z"' into BUF (>= 48 bytes); its length. */
static size_t format_ts(struct fd_svc_audit_thread *at, char *buf)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != at->ts_sec || !at->ts_prefix[0]) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(at->ts_prefix, sizeof at->ts_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        at->ts_sec = ts.tv_sec;
    }
    return (size_t)snprintf(buf, 48, "\"ts\":\"%s.%06ldZ\"", at->ts_prefix, ts.tv_nsec / 1000);
}

/* Format R (with the text's digest HEX) as the record body into at->body:
 * the members after seq. */
static void format_body(struct fd_svc_audit_thread *at, const fd_config *cfg, const fd_svc_rec *r,
                        const char *hex)
{
    fd_buf *b = &at->body;
    b->len = 0;
    fd_buf_puts(b, "\"op\":\"");
    fd_buf_puts(b, r->op);
    fd_buf_puts(b, "\",\"api\":\"");
    fd_buf_puts(b, fd_svc_api_name(r->api));
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
    bool first = true;
    bool excerpts = cfg->audit_text != FD_AUDIT_TEXT_NONE;
    for (size_t i = 0; i < r->nmatches; i++) {
        const fd_match *m = &r->matches[i];
        if (!fd_svc_counts(m))
            continue; /* the matches that count, as in the response (SPEC §2) */
        const char *p = NULL;
        size_t n = 0;
        if (excerpts && r->exoff) {
            n = r->exoff[i + 1] - r->exoff[i];
            p = n ? r->excerpts + r->exoff[i] : NULL;
        } else if (excerpts && r->text && m->end <= r->len && m->start <= m->end) {
            p = r->text + m->start;
            n = m->end - m->start;
        }
        if (!first)
            fd_buf_putc(b, ',');
        first = false;
        fd_svc_match_json(b, r->rs, m, true, p, n);
    }
    fd_buf_putc(b, ']');
    if (r->dropped) {
        fd_buf_puts(b, ",\"dropped\":");
        fd_buf_u64(b, r->dropped);
    }
    fd_buf_puts(b, ",\"sha256\":\"");
    fd_buf_puts(b, hex);
    fd_buf_puts(b, "\",\"bytes\":");
    fd_buf_u64(b, r->bytes);
    if (cfg->audit_text == FD_AUDIT_TEXT_FULL && r->text) {
        fd_buf_puts(b, ",\"text\":");
        fd_buf_json_str(b, r->text, r->len);
    }
    fd_buf_puts(b, ",\"rules\":\"");
    fd_buf_puts(b, fd_ruleset_version(r->rs));
    if (r->addr) { /* TCP: no credentials, the remote address */
        fd_buf_puts(b, "\",\"peer\":{\"addr\":");
        fd_buf_json_str(b, r->addr, strlen(r->addr));
    } else {
        fd_buf_puts(b, "\",\"peer\":{\"pid\":");
        fd_buf_i64(b, r->peer ? (int64_t)r->peer->pid : 0);
        fd_buf_puts(b, ",\"uid\":");
        fd_buf_i64(b, r->peer ? (int64_t)(int32_t)r->peer->uid : -1);
        fd_buf_puts(b, ",\"gid\":");
        fd_buf_i64(b, r->peer ? (int64_t)(int32_t)r->peer->gid : -1);
    }
    fd_buf_puts(b, "},\"meta\":");
    fd_buf_puts(b, r->meta ? r->meta : "null");
    fd_buf_puts(b, ",\"us\":");
    fd_buf_u64(b, r->us);
}

/* The batch being filled on AT's thread, with room for one more ticket;
 * NULL when out of memory. */
static abatch *current(struct fd_svc_audit_thread *at)
{
    abatch *b = at->cur;
    if (!b) {
        if (at->spare) {
            b = at->spare;
            at->spare = b->next;
        } else {
            b = calloc(1, sizeof *b);
            if (!b)
                return NULL;
            fd_audit_batch_init(&b->b);
            b->owner = at;
        }
        b->next = NULL;
        at->cur = b;
    }
    if (b->ntk == b->captk) {
        size_t cap = b->captk ? b->captk * 2 : 64;
        ticket *p = realloc(b->tk, cap * sizeof *p);
        if (!p)
            return NULL;
        b->tk = p;
        b->captk = cap;
    }
    return b;
}

int fd_svc_audit_record(fd_svc_thread *t, const fd_svc_rec *r, fd_svc_done_fn cb, void *arg)
{
    fd_svc_audit *a = t->svc->audit;
    struct fd_svc_audit_thread *at = t->audit;
    if (!a || !at || !fd_svc_audit_wants(t->svc, r->decision))
        return 0;
    /* Room for the ticket first: once the record is in the batch nothing
     * may fail any more. */
    abatch *b = current(at);
    if (!b)
        return FD_ENOMEM;
    char hex[65];
    const char *sha = r->sha256;
    if (!sha) {
        if (fd_sha256_reuse_hex(&at->dg, r->text, r->len, hex) != 0)
            return FD_ENOMEM;
        sha = hex;
    }
    format_body(at, a->cfg, r, sha);
    if (at->body.oom) {
        at->body.oom = false;
        fd_buf_free(&at->body);
        return FD_ENOMEM;
    }
    char head[48];
    size_t hl = format_ts(at, head);
    if (fd_audit_batch_add(&b->b, head, hl, at->body.data, at->body.len) != 0)
        return FD_ENOMEM;
    /* A burst of huge texts (--audit-text full) grew the body buffer: give
     * the memory back rather than keep it for the thread's lifetime. */
    if (at->body.cap > (4u << 20))
        fd_buf_free(&at->body);
    b->tk[b->ntk++] = (ticket){cb, arg};
    return FD_SVC_PENDING;
}

int fd_svc_audit_barrier(fd_svc_thread *t, fd_svc_done_fn cb, void *arg)
{
    abatch *b = t->audit ? current(t->audit) : NULL;
    if (!b)
        return FD_ENOMEM;
    b->tk[b->ntk++] = (ticket){cb, arg};
    return FD_SVC_PENDING;
}

/* ---- the writer thread ---------------------------------------------------- */

/* Append the records of FROM to TO (the writer merges the batches that
 * wait into one chain segment). 0 or FD_ENOMEM. */
static int merge(fd_audit_batch *to, const fd_audit_batch *from)
{
    for (size_t i = 0; i < from->n; i++) {
        const char *head = from->buf + from->rec[3 * i];
        size_t hl = from->rec[3 * i + 1], bl = from->rec[3 * i + 2];
        if (fd_audit_batch_add(to, head, hl, head + hl, bl) != 0)
            return FD_ENOMEM;
    }
    return 0;
}

/* Write the batches of LIST as one segment; their status into each. */
static void write_list(fd_svc_audit *a, abatch *list)
{
    int rc = 0;
    if (list->next) {
        fd_audit_batch_clear(&a->merged);
        for (abatch *b = list; b && rc == 0; b = b->next)
            rc = merge(&a->merged, &b->b);
        if (rc == 0)
            rc = fd_auditlog_commit(a->log, &a->merged);
        if (a->merged.cap > (8u << 20))
            fd_audit_batch_free(&a->merged);
    } else {
        rc = fd_auditlog_commit(a->log, &list->b);
    }
    if (rc == 0 && a->failing) {
        a->failing = 0;
        atomic_store(&a->failing_pub, 0);
        fd_info("audit log %s: writes work again; decisions are answered again", a->path);
    } else if (rc != 0 && !a->failing) {
        a->failing = 1;
        atomic_store(&a->failing_pub, 1);
        fd_error("audit log %s: write failed (device full, file size limit or I/O error); "
                 "answering audit_failed instead of decisions until writes work again",
                 a->path);
    }
    for (abatch *b = list; b; b = b->next)
        b->status = rc == 0 ? 0 : FD_SVC_EAUDIT;
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

static void writer_main(void *arg)
{
    fd_svc_audit *a = arg;
    bool interval = a->cfg->audit_fsync == FD_FSYNC_INTERVAL && strcmp(a->path, "-") != 0;
    uint64_t last_sync = now_ms();
    bool unsynced = false;
    uv_mutex_lock(&a->mu);
    for (;;) {
        while (!a->qhead && !a->stop) {
            if (!interval || !unsynced) {
                uv_cond_wait(&a->cv, &a->mu);
                continue;
            }
            uint64_t now = now_ms();
            if (now - last_sync >= 1000)
                break;
            uv_cond_timedwait(&a->cv, &a->mu, (1000 - (now - last_sync)) * 1000000);
        }
        abatch *list = a->qhead;
        a->qhead = a->qtail = NULL;
        bool stop = a->stop;
        uv_mutex_unlock(&a->mu);

        if (list) {
            write_list(a, list);
            unsynced = true;
            /* Hand each batch back to its thread, then wake those threads.
             * The owners are collected first: once published, a batch may
             * be completed and reused by its thread at any moment. */
            size_t nown = 0;
            for (abatch *b = list; b; b = b->next) {
                size_t k = 0;
                while (k < nown && a->owners[k] != b->owner)
                    k++;
                if (k == nown && nown < a->maxowners)
                    a->owners[nown++] = b->owner;
            }
            uv_mutex_lock(&a->mu);
            for (abatch *b = list, *next; b; b = next) {
                next = b->next;
                b->next = b->owner->done;
                b->owner->done = b;
            }
            uv_mutex_unlock(&a->mu);
            for (size_t k = 0; k < nown; k++)
                uv_async_send(&a->owners[k]->async);
        }
        if (interval && unsynced && now_ms() - last_sync >= 1000) {
            if (fd_auditlog_sync(a->log) != 0)
                fd_warn("audit log %s: fdatasync failed", a->path);
            last_sync = now_ms();
            unsynced = false;
        }
        uv_mutex_lock(&a->mu);
        if (stop && !a->qhead)
            break;
    }
    uv_mutex_unlock(&a->mu);
}

/* ---- completion on the owning thread ------------------------------------- */

static void async_cb(uv_async_t *h)
{
    struct fd_svc_audit_thread *at = h->data;
    fd_svc_audit *a = at->t->svc->audit;
    uv_mutex_lock(&a->mu);
    abatch *list = at->done;
    at->done = NULL;
    uv_mutex_unlock(&a->mu);
    /* The list is newest first: complete in submission order. */
    abatch *fifo = NULL;
    while (list) {
        abatch *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
    }
    while (fifo) {
        abatch *b = fifo;
        fifo = b->next;
        for (size_t i = 0; i < b->ntk; i++)
            if (b->tk[i].cb)
                b->tk[i].cb(b->tk[i].arg, b->status);
        at->inflight--;
        fd_audit_batch_clear(&b->b);
        b->ntk = 0;
        if (b->b.cap > (4u << 20))
            fd_audit_batch_free(&b->b);
        b->next = at->spare;
        at->spare = b;
    }
    if (at->t->on_complete)
        at->t->on_complete(at->t->on_complete_arg);
}

void fd_svc_audit_flush(fd_svc_thread *t)
{
    struct fd_svc_audit_thread *at = t->audit;
    if (!at || !at->cur || at->cur->ntk == 0)
        return;
    fd_svc_audit *a = t->svc->audit;
    abatch *b = at->cur;
    at->cur = NULL;
    b->next = NULL;
    at->inflight++;
    uv_mutex_lock(&a->mu);
    if (a->qtail)
        a->qtail->next = b;
    else
        a->qhead = b;
    a->qtail = b;
    uv_cond_signal(&a->cv);
    uv_mutex_unlock(&a->mu);
}

bool fd_svc_audit_busy(const fd_svc_thread *t)
{
    const struct fd_svc_audit_thread *at = t->audit;
    return at && (at->inflight || (at->cur && at->cur->ntk));
}

/* ---- per thread ----------------------------------------------------------- */

int fd_svc_audit_thread_init(fd_svc_thread *t)
{
    if (!t->svc->audit)
        return 0;
    struct fd_svc_audit_thread *at = calloc(1, sizeof *at);
    if (!at)
        return FD_ENOMEM;
    at->t = t;
    if (fd_sha256_reuse_init(&at->dg) != 0 || uv_async_init(t->loop, &at->async, async_cb) != 0) {
        fd_sha256_reuse_free(&at->dg);
        free(at);
        return FD_ENOMEM;
    }
    at->async.data = at;
    at->async_open = true;
    /* Not a reason to keep the loop running by itself: a thread that
     * waits for records keeps its loop alive through its connections. */
    uv_unref((uv_handle_t *)&at->async);
    t->audit = at;
    return 0;
}

void fd_svc_audit_thread_close(fd_svc_thread *t)
{
    struct fd_svc_audit_thread *at = t->audit;
    if (at && at->async_open && !uv_is_closing((uv_handle_t *)&at->async))
        uv_close((uv_handle_t *)&at->async, NULL);
}

static void batch_free(abatch *b)
{
    fd_audit_batch_free(&b->b);
    free(b->tk);
    free(b);
}

void fd_svc_audit_thread_free(fd_svc_thread *t)
{
    struct fd_svc_audit_thread *at = t->audit;
    if (!at)
        return;
    fd_svc_audit *a = t->svc->audit;
    /* Records queued after the last flush (streams ended while the loop
     * wound down): written here, synchronously; nobody waits for them any
     * more, but their tickets still run (they free what waits on them). */
    if (at->cur && at->cur->ntk) {
        abatch *b = at->cur;
        at->cur = NULL;
        int rc = b->b.n ? fd_auditlog_commit(a->log, &b->b) : 0;
        if (rc)
            fd_error("audit log %s: the last records of thread %u could not be written", a->path,
                     t->idx);
        for (size_t i = 0; i < b->ntk; i++)
            if (b->tk[i].cb)
                b->tk[i].cb(b->tk[i].arg, rc ? FD_SVC_EAUDIT : 0);
        batch_free(b);
    }
    if (at->cur)
        batch_free(at->cur);
    for (abatch *b = at->spare, *next; b; b = next) {
        next = b->next;
        batch_free(b);
    }
    fd_buf_free(&at->body);
    fd_sha256_reuse_free(&at->dg);
    free(at);
    t->audit = NULL;
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

static void free_audit(fd_svc_audit *a)
{
    if (a->log)
        fd_auditlog_close(a->log); /* fdatasync unless --audit-fsync never */
    fd_audit_batch_free(&a->merged);
    free(a->owners);
    free(a);
}

int fd_svc_audit_open(fd_service *svc)
{
    const fd_config *cfg = svc->cfg;
    if (!cfg->audit_path) {
        fd_info("audit log off (no --audit): decisions are not recorded");
        return 0;
    }
    fd_svc_audit *a = calloc(1, sizeof *a);
    if (!a) {
        fd_error("audit log: out of memory");
        return FD_ENOMEM;
    }
    a->cfg = cfg;
    a->path = cfg->audit_path;
    a->maxowners = svc->maxthreads + 1;
    a->owners = calloc(a->maxowners, sizeof *a->owners);
    fd_audit_batch_init(&a->merged);
    if (!a->owners) {
        fd_error("audit log: out of memory");
        free_audit(a);
        return FD_ENOMEM;
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
        a->log = NULL;
        free_audit(a);
        return rc;
    }
    if (uv_mutex_init(&a->mu) != 0 || uv_cond_init(&a->cv) != 0) {
        fd_error("audit log: cannot create the writer's lock");
        free_audit(a);
        return FD_ENOMEM;
    }
    if (uv_thread_create(&a->writer, writer_main, a) != 0) {
        fd_error("audit log: cannot start the writer thread");
        uv_mutex_destroy(&a->mu);
        uv_cond_destroy(&a->cv);
        free_audit(a);
        return FD_ENOMEM;
    }
    a->writer_running = true;
    fd_auditlog_stats st;
    fd_auditlog_get_stats(a->log, &st);
    fd_info("audit log %s: level %s, text %s, fsync %s; chain continues at seq %llu",
            strcmp(cfg->audit_path, "-") == 0 ? "(stdout)" : cfg->audit_path,
            level_names[cfg->audit_level], text_names[cfg->audit_text],
            fsync_names[cfg->audit_fsync], (unsigned long long)st.next_seq);
    svc->audit = a;
    return 0;
}

void fd_svc_audit_reopen(fd_service *svc)
{
    fd_svc_audit *a = svc->audit;
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

void fd_svc_audit_close(fd_service *svc)
{
    fd_svc_audit *a = svc->audit;
    if (!a)
        return;
    uv_mutex_lock(&a->mu);
    a->stop = true;
    uv_cond_signal(&a->cv);
    uv_mutex_unlock(&a->mu);
    uv_thread_join(&a->writer);
    uv_mutex_destroy(&a->mu);
    uv_cond_destroy(&a->cv);
    fd_auditlog_stats st;
    fd_auditlog_get_stats(a->log, &st);
    fd_info("audit log %s closed: %llu records in %llu writes, %llu failed writes", a->path,
            (unsigned long long)st.records, (unsigned long long)st.writes,
            (unsigned long long)st.errors);
    free_audit(a);
    svc->audit = NULL;
}

void fd_svc_audit_stats(fd_service *svc, fd_stats_extra *x)
{
    fd_svc_audit *a = svc->audit;
    x->audit_enabled = a && a->log;
    if (!x->audit_enabled)
        return;
    fd_auditlog_stats st;
    fd_auditlog_get_stats(a->log, &st);
    x->audit_records = st.records;
    x->audit_writes = st.writes;
    x->audit_errors = st.errors;
    x->audit_next_seq = st.next_seq;
    x->audit_failing = atomic_load(&a->failing_pub);
}
