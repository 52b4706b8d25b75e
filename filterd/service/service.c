/*
 * service.c — see service.h: the service's life cycle, threads, check,
 * reload waiters and admin answers. Streams are in streams.c, the audit
 * writer in audit.c.
 */
#include "service.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "sessions.h"
#include "log.h"
#include "rules.h"

#ifndef FILTERD_VERSION
#define FILTERD_VERSION "0.0.0"
#endif

void fd_reload_result_release(fd_reload_result *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (r->rs)
        fd_ruleset_unref(r->rs);
    free(r->errors);
    free(r);
}

/* ---- life cycle ----------------------------------------------------------- */

int fd_service_init(fd_service *svc, const fd_config *cfg, unsigned maxthreads,
                    const fd_svc_hooks *hooks)
{
    memset(svc, 0, sizeof *svc);
    svc->cfg = cfg;
    if (hooks)
        svc->hooks = *hooks;
    svc->start_ms = uv_hrtime() / 1000000;
    svc->maxthreads = maxthreads;
    svc->threads = calloc(maxthreads ? maxthreads : 1, sizeof *svc->threads);
    if (!svc->threads)
        return FD_ENOMEM;
    svc->sessions = fd_svc_sessions_new();
    if (!svc->sessions) {
        free(svc->threads);
        svc->threads = NULL;
        return FD_ENOMEM;
    }
    int rc = fd_svc_audit_open(svc);
    if (rc != 0) {
        fd_svc_sessions_free(svc->sessions);
        svc->sessions = NULL;
        free(svc->threads);
        svc->threads = NULL;
        return rc;
    }
    return 0;
}

void fd_service_fini(fd_service *svc)
{
    fd_svc_audit_close(svc);
    fd_svc_sessions_free(svc->sessions);
    svc->sessions = NULL;
    free(svc->threads);
    svc->threads = NULL;
}

void fd_service_reopen_audit(fd_service *svc)
{
    fd_svc_audit_reopen(svc);
}

void fd_service_note_reload(fd_service *svc, const fd_reload_result *r)
{
    atomic_store(&svc->last_reload_at, (uint64_t)time(NULL));
    if (r->rs) {
        atomic_fetch_add(&svc->reloads_ok, 1);
        atomic_store(&svc->last_reload_ok, 1);
        atomic_store(&svc->last_reload_us, (uint64_t)(fd_ruleset_compile_ms(r->rs) * 1000));
        atomic_store(&svc->last_reload_cached, fd_ruleset_cached(r->rs));
    } else {
        atomic_fetch_add(&svc->reloads_failed, 1);
        atomic_store(&svc->last_reload_ok, 0);
    }
}

int fd_svc_is_admin(const fd_service *svc, uid_t uid)
{
    return fd_config_is_admin(svc->cfg, uid);
}

/* ---- threads -------------------------------------------------------------- */

int fd_svc_thread_init(fd_service *svc, fd_svc_thread *t, unsigned idx, uv_loop_t *loop,
                       fd_ruleset *rs)
{
    t->svc = svc;
    t->idx = idx;
    t->loop = loop;
    fd_result_init(&t->result);
    /* the sessions' buffers start empty whatever T held */
    memset(&t->sess_text, 0, sizeof t->sess_text);
    memset(&t->sess_matches, 0, sizeof t->sess_matches);
    memset(&t->sess_excerpts, 0, sizeof t->sess_excerpts);
    memset(&t->sess_exoff, 0, sizeof t->sess_exoff);
    int rc = fd_scratch_new(rs, &t->scratch);
    if (rc != 0) {
        fd_error("scratch: %s", fd_strerror(rc));
        return rc;
    }
    t->rs = fd_ruleset_ref(rs);
    rc = fd_svc_audit_thread_init(t);
    if (rc != 0)
        return rc;
    if (svc->nthreads < svc->maxthreads)
        svc->threads[svc->nthreads++] = t;
    return 0;
}

void fd_svc_thread_flush(fd_svc_thread *t)
{
    fd_svc_audit_flush(t);
}

bool fd_svc_thread_busy(const fd_svc_thread *t)
{
    return fd_svc_audit_busy(t);
}

void fd_svc_thread_close(fd_svc_thread *t)
{
    fd_svc_audit_thread_close(t);
}

void fd_svc_thread_free(fd_svc_thread *t)
{
    fd_svc_audit_thread_free(t);
    if (t->scratch)
        fd_scratch_free(t->scratch);
    t->scratch = NULL;
    fd_result_free(&t->result);
    fd_buf_free(&t->sess_text);
    fd_buf_free(&t->sess_matches);
    fd_buf_free(&t->sess_excerpts);
    fd_buf_free(&t->sess_exoff);
    if (t->rs)
        fd_ruleset_unref(t->rs);
    t->rs = NULL;
    if (t->hold)
        fd_ruleset_unref(t->hold);
    t->hold = NULL;
}

/* Answer the waiters of T whose generation is <= UPTO. */
static void answer_waiters(fd_svc_thread *t, uint64_t upto, int status, const fd_reload_result *res,
                           const char *msg)
{
    /* Detach first: an answer may queue a new request (a new waiter). */
    fd_svc_reload_req *ready = NULL, **p = &t->waiters;
    while (*p) {
        fd_svc_reload_req *rq = *p;
        if (rq->gen <= upto) {
            *p = rq->next;
            rq->next = ready;
            ready = rq;
        } else {
            p = &rq->next;
        }
    }
    while (ready) {
        fd_svc_reload_req *rq = ready;
        ready = rq->next;
        rq->waiting = false;
        rq->cb(rq->arg, status, res, msg);
    }
}

void fd_svc_thread_reload(fd_svc_thread *t, const fd_reload_result *res)
{
    int status = 0;
    const char *msg = NULL;
    if (!res->rs && res->status == FD_SVC_EBAD_RULES) {
        status = FD_SVC_EBAD_RULES;
        msg = res->errors ? res->errors : "reload failed";
    } else if (!res->rs) {
        status = FD_SVC_EINTERNAL;
        msg = "the reload failed (out of memory); the previous rules stay";
    } else if (res->rs != t->rs) {
        /* Streams opened before keep their rule set (they hold a reference)
         * and go on using this scratch: that stays valid for them because
         * fd_scratch_update() only ever grows it. */
        int rc = fd_scratch_update(t->scratch, res->rs);
        if (rc == 0) {
            fd_ruleset_unref(t->rs);
            t->rs = fd_ruleset_ref(res->rs);
        } else {
            fd_error("thread %u: cannot switch to the new rules: %s; keeping rules %s", t->idx,
                     fd_strerror(rc), fd_ruleset_version(t->rs));
            status = FD_SVC_EINTERNAL;
            msg = "the rules were reloaded, but a worker could not switch to them (out of "
                  "memory); it goes on with the previous rules";
        }
    }
    answer_waiters(t, res->gen, status, res, msg);
}

void fd_svc_thread_stop(fd_svc_thread *t)
{
    t->stopping = true;
    answer_waiters(t, UINT64_MAX, FD_SVC_EINTERNAL, NULL, "the daemon is shutting down");
}

int fd_svc_reload(fd_svc_thread *t, fd_svc_reload_req *rq, fd_svc_reload_fn cb, void *arg)
{
    if (t->stopping || !t->svc->hooks.request_reload)
        return FD_SVC_EBUSY;
    rq->cb = cb;
    rq->arg = arg;
    rq->gen = t->svc->hooks.request_reload(t->svc->hooks.arg);
    rq->waiting = true;
    rq->next = t->waiters;
    t->waiters = rq;
    return FD_SVC_PENDING;
}

void fd_svc_reload_cancel(fd_svc_thread *t, fd_svc_reload_req *rq)
{
    if (!rq->waiting)
        return;
    for (fd_svc_reload_req **p = &t->waiters; *p; p = &(*p)->next) {
        if (*p == rq) {
            *p = rq->next;
            break;
        }
    }
    rq->waiting = false;
}

/* ---- counting ------------------------------------------------------------- */

void fd_svc_count(fd_svc_thread *t, int api, int op)
{
    if (api >= 0 && api < FD_API_COUNT && op >= 0 && op < FD_OP_COUNT)
        fd_stat_add(&t->stats.ops[api][op], 1);
}

void fd_svc_count_error(fd_svc_thread *t, int err)
{
    fd_stat_add(&t->stats.errors[fd_svc_code_index(err)], 1);
}

void fd_svc_count_latency(fd_svc_thread *t, uint64_t us)
{
    fd_stats_latency(&t->stats, us);
}

/* ---- check ---------------------------------------------------------------- */

int fd_svc_check(fd_svc_thread *t, const fd_svc_owner *owner, const char *text, size_t len,
                 const char *meta, const fd_svc_req *rq, fd_svc_check_out *out)
{
    int rc = fd_scan(t->rs, t->scratch, text, len, &t->result);
    if (rc == FD_EUTF8)
        return FD_SVC_EBAD_UTF8;
    if (rc == FD_ETOOBIG)
        return FD_SVC_ETOO_LARGE;
    if (rc != 0) {
        fd_error("scan failed: %s", fd_strerror(rc));
        return FD_SVC_EINTERNAL;
    }
    const fd_result *res = &t->result;
    out->res = res;
    out->rs = t->rs;
    out->us = (uv_hrtime() - rq->t0) / 1000;
    fd_svc_rec r = {
        .op = "check",
        .api = owner->api,
        .id_json = rq->id_json,
        .id_len = rq->id_json ? rq->id_len : 0,
        .decision = res->decision,
        .matches = res->matches,
        .nmatches = res->n,
        .dropped = res->dropped,
        .text = text,
        .len = len,
        .bytes = len,
        .rs = t->rs,
        .meta = meta,
        .peer = &owner->peer,
        .addr = owner->addr[0] ? owner->addr : NULL,
        .us = out->us,
    };
    rc = fd_svc_audit_record(t, &r, rq->done, rq->arg);
    if (rc < 0)
        return FD_SVC_EAUDIT;

    /* counters: the decision, each category with a counted match once */
    fd_stat_add(&t->stats.decisions[res->decision], 1);
    fd_stat_add(&t->stats.bytes, len);
    uint64_t seen[FD_STATS_MAX_CATS / 64] = {0};
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (!fd_svc_counts(m))
            continue;
        uint32_t cat = fd_ruleset_rule(t->rs, m->rule)->category;
        if (cat < FD_STATS_MAX_CATS)
            fd_stat_add(&t->stats.matches[cat][m->action == FD_BLOCK], 1);
        if (cat < FD_STATS_MAX_CATS && !(seen[cat / 64] & (1ull << (cat % 64)))) {
            seen[cat / 64] |= 1ull << (cat % 64);
            fd_stat_add(&t->stats.categories[cat], 1);
        }
    }
    return rc;
}

void fd_svc_match_json(fd_buf *b, const fd_ruleset *rs, const fd_match *m, bool src,
                       const char *excerpt, size_t excerpt_len)
{
    const fd_rule *rule = fd_ruleset_rule(rs, m->rule);
    const fd_category *cat = fd_ruleset_category(rs, rule->category);
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
    if (m->suppressed)
        fd_buf_puts(b, ",\"suppressed\":true");
    if (src) {
        /* "src":"FILE:LINE" (file names relative to the rule directory) */
        const fd_rulelist *rl = fd_ruleset_rules(rs);
        const char *file = rule->file < rl->nfiles ? rl->files[rule->file] : "?";
        fd_buf_puts(b, ",\"src\":");
        fd_buf_json_str(b, file, strlen(file));
        if (!b->oom)
            b->len--; /* reopen the string to append ":LINE" */
        fd_buf_printf(b, ":%u\"", rule->line);
    }
    if (excerpt) {
        fd_buf_puts(b, ",\"excerpt\":");
        fd_buf_json_str(b, excerpt, excerpt_len);
    }
    fd_buf_putc(b, '}');
}

/* ---- admin ---------------------------------------------------------------- */

void fd_svc_version(fd_svc_thread *t, fd_buf *out)
{
    const fd_ruleset *rs = t->rs;
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    const char *hs = fd_hs_version();
    fd_buf_puts(out, "\"version\":\"" FILTERD_VERSION "\",\"hyperscan\":");
    fd_buf_json_str(out, hs, strlen(hs));
    fd_buf_puts(out, ",\"rules\":\"");
    fd_buf_puts(out, fd_ruleset_version(rs));
    fd_buf_puts(out, "\",\"rule_count\":");
    fd_buf_u64(out, fd_ruleset_nrules(rs));
    /* The taxonomy, so clients can name categories without the rule files. */
    fd_buf_puts(out, ",\"categories\":[");
    for (size_t i = 0; i < rl->ncats; i++) {
        const fd_category *cat = &rl->cats[i];
        if (i)
            fd_buf_putc(out, ',');
        fd_buf_puts(out, "{\"id\":");
        fd_buf_json_str(out, cat->id, strlen(cat->id));
        fd_buf_puts(out, ",\"zh\":");
        fd_buf_json_str(out, cat->zh, strlen(cat->zh));
        fd_buf_puts(out, ",\"en\":");
        fd_buf_json_str(out, cat->en, strlen(cat->en));
        fd_buf_putc(out, '}');
    }
    fd_buf_putc(out, ']');
}

void fd_svc_stats_snapshot(fd_svc_thread *t, fd_stats_snapshot *snap)
{
    fd_service *svc = t->svc;
    const fd_ruleset *rs = t->rs;
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    static _Thread_local const char *cat_ids[FD_STATS_MAX_CATS];
    size_t ncats = rl->ncats < FD_STATS_MAX_CATS ? rl->ncats : FD_STATS_MAX_CATS;
    for (size_t i = 0; i < ncats; i++)
        cat_ids[i] = rl->cats[i].id;
    fd_stats *threads[256];
    size_t n = svc->nthreads < 256 ? svc->nthreads : 256;
    for (size_t i = 0; i < n; i++)
        threads[i] = &svc->threads[i]->stats;
    snap->x = (fd_stats_extra){
        .rules_version = fd_ruleset_version(rs),
        .rules_count = fd_ruleset_nrules(rs),
        .cat_ids = cat_ids,
        .ncats = ncats,
        .reloads_ok = atomic_load(&svc->reloads_ok),
        .reloads_failed = atomic_load(&svc->reloads_failed),
        .last_reload_at = atomic_load(&svc->last_reload_at),
        .last_reload_ok = atomic_load(&svc->last_reload_ok),
        .last_reload_us = atomic_load(&svc->last_reload_us),
        .last_reload_cached = atomic_load(&svc->last_reload_cached),
        .rules_load_ms = fd_ruleset_compile_ms(rs),
        .rules_cached = fd_ruleset_cached(rs),
        .uptime_s = (uv_hrtime() / 1000000 - svc->start_ms) / 1000,
        .threads = svc->maxthreads,
    };
    fd_svc_audit_stats(svc, &snap->x);
    fd_stats_sum(snap, threads, n);
}

void fd_svc_stats(fd_svc_thread *t, fd_buf *out)
{
    /* Too large for a worker's stack frame habits: one per thread. */
    static _Thread_local fd_stats_snapshot snap;
    fd_svc_stats_snapshot(t, &snap);
    fd_stats_write(out, &snap);
}
