/*
 * sessions.c — see service.h (sessions) and sessions.h.
 */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "log.h"

/* Fixed: at FD_SESSION_MAX sessions a chain holds 16 on average. */
#define NBUCKETS 4096u

typedef struct sess {
    struct sess *hnext;       /* hash chain */
    struct sess *prev, *next; /* least recently used first */
    uint32_t hash;
    uint64_t last_ms;
    bool blocked;
    size_t ncarry;
    char carry[FD_SESSION_CARRY];
    size_t keylen;
    char key[];
} sess;

struct fd_svc_sessions {
    uv_mutex_t mu;
    sess *buckets[NBUCKETS];
    size_t n;
    sess *head, *tail;
};

struct fd_svc_sessions *fd_svc_sessions_new(void)
{
    struct fd_svc_sessions *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (uv_mutex_init(&s->mu) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void fd_svc_sessions_free(struct fd_svc_sessions *s)
{
    if (!s)
        return;
    for (sess *e = s->head, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    uv_mutex_destroy(&s->mu);
    free(s);
}

size_t fd_svc_sessions_count(fd_service *svc)
{
    struct fd_svc_sessions *s = svc->sessions;
    if (!s)
        return 0;
    uv_mutex_lock(&s->mu);
    size_t n = s->n;
    uv_mutex_unlock(&s->mu);
    return n;
}

static uint32_t key_hash(const char *k, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 16777619u;
    }
    return h;
}

static void lru_unlink(struct fd_svc_sessions *s, sess *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_append(struct fd_svc_sessions *s, sess *e)
{
    e->prev = s->tail;
    e->next = NULL;
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
}

static void remove_sess(struct fd_svc_sessions *s, sess *e)
{
    for (sess **p = &s->buckets[e->hash % NBUCKETS]; *p; p = &(*p)->hnext) {
        if (*p == e) {
            *p = e->hnext;
            break;
        }
    }
    lru_unlink(s, e);
    s->n--;
    free(e);
}

static sess *find(struct fd_svc_sessions *s, const char *key, size_t keylen, uint32_t h)
{
    for (sess *e = s->buckets[h % NBUCKETS]; e; e = e->hnext)
        if (e->hash == h && e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
            return e;
    return NULL;
}

/* End the sessions idle for IDLE_MS or more (0: none expire). */
static void sweep(struct fd_svc_sessions *s, uint64_t now, uint64_t idle_ms)
{
    while (idle_ms && s->head && now - s->head->last_ms >= idle_ms)
        remove_sess(s, s->head);
}

/* Session KEY, created (empty) when it does not exist; NULL: no memory. */
static sess *get(struct fd_svc_sessions *s, const char *key, size_t keylen, uint32_t h,
                 uint64_t now)
{
    sess *e = find(s, key, keylen, h);
    if (e)
        return e;
    if (s->n >= FD_SESSION_MAX)
        remove_sess(s, s->head);
    e = calloc(1, sizeof *e + keylen);
    if (!e)
        return NULL;
    memcpy(e->key, key, keylen);
    e->keylen = keylen;
    e->hash = h;
    e->last_ms = now;
    e->hnext = s->buckets[h % NBUCKETS];
    s->buckets[h % NBUCKETS] = e;
    lru_append(s, e);
    s->n++;
    return e;
}

/* The carry after TEXT: its last FD_SESSION_CARRY bytes at most, starting
 * on a character (TEXT is valid UTF-8: the scan accepted it). */
static void keep_carry(sess *e, const char *text, size_t len)
{
    size_t from = len > FD_SESSION_CARRY ? len - FD_SESSION_CARRY : 0;
    while (from < len && ((unsigned char)text[from] & 0xC0) == 0x80)
        from++;
    e->ncarry = len - from;
    memcpy(e->carry, text + from, e->ncarry);
}

int fd_svc_session_check(fd_svc_thread *t, const fd_svc_owner *owner, const char *key,
                         size_t keylen, const char *piece, size_t len, const char *meta,
                         const fd_svc_req *rq, fd_svc_session_out *out)
{
    struct fd_svc_sessions *s = t->svc->sessions;
    if (!s || keylen == 0 || keylen > FD_SESSION_KEY_MAX)
        return FD_SVC_EBAD_REQUEST;
    uint64_t now = uv_hrtime() / 1000000;
    uint64_t idle_ms = (uint64_t)t->svc->cfg->idle_timeout * 1000;
    uint32_t h = key_hash(key, keylen);

    /* The carry, copied out: the scan runs without the lock. */
    fd_buf *text = &t->sess_text;
    text->len = 0;
    uv_mutex_lock(&s->mu);
    sweep(s, now, idle_ms);
    sess *e = find(s, key, keylen, h);
    bool blocked = e && e->blocked;
    if (e)
        fd_buf_append(text, e->carry, e->ncarry);
    uv_mutex_unlock(&s->mu);
    size_t base = text->len;
    fd_buf_append(text, piece, len);
    if (text->oom) {
        text->oom = false;
        return FD_SVC_EINTERNAL;
    }

    fd_result *res = &t->result;
    int rc = fd_scan(t->rs, t->scratch, text->data, text->len, res);
    if (rc == FD_EUTF8)
        return FD_SVC_EBAD_UTF8;
    if (rc == FD_ETOOBIG)
        return FD_SVC_ETOO_LARGE;
    if (rc != 0) {
        fd_error("scan failed: %s", fd_strerror(rc));
        return FD_SVC_EINTERNAL;
    }

    /* This piece's matches: the counted ones that end inside it. */
    fd_action scanned = res->decision;
    fd_action d = FD_ALLOW;
    size_t k = 0;
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (!fd_svc_counts(m) || m->end <= base)
            continue;
        if (m->action == FD_BLOCK)
            d = FD_BLOCK;
        else if (d == FD_ALLOW)
            d = FD_FLAG;
        res->matches[k++] = *m;
    }
    res->n = k;
    /* Matches dropped over FD_MAX_MATCHES still decided: fail closed. */
    if (res->dropped && scanned == FD_BLOCK)
        d = FD_BLOCK;
    if (blocked)
        d = FD_BLOCK;
    res->decision = d;

    uv_mutex_lock(&s->mu);
    e = get(s, key, keylen, h, now);
    if (e) {
        keep_carry(e, text->data, text->len);
        if (d == FD_BLOCK)
            e->blocked = true;
        e->last_ms = now;
        lru_unlink(s, e);
        lru_append(s, e);
    }
    uv_mutex_unlock(&s->mu);
    if (!e) {
        fd_error("session: out of memory");
        return FD_SVC_EINTERNAL;
    }

    out->res = res;
    out->rs = t->rs;
    out->text = text->data;
    out->len = text->len;
    out->base = base;
    out->was_blocked = blocked;

    /* The record: offsets into the piece, excerpts of whole matches. */
    fd_buf *mb = &t->sess_matches, *xb = &t->sess_excerpts, *ob = &t->sess_exoff;
    mb->len = xb->len = ob->len = 0;
    uint32_t off = 0;
    fd_buf_append(ob, &off, sizeof off);
    for (size_t i = 0; i < res->n; i++) {
        fd_match m = res->matches[i];
        size_t n = m.end - m.start;
        if (n > 256)
            n = 256;
        fd_buf_append(xb, text->data + m.start, n);
        m.start = m.start > base ? (uint32_t)(m.start - base) : 0;
        m.end = (uint32_t)(m.end - base);
        fd_buf_append(mb, &m, sizeof m);
        off = (uint32_t)xb->len;
        fd_buf_append(ob, &off, sizeof off);
    }
    if (mb->oom || xb->oom || ob->oom) {
        mb->oom = xb->oom = ob->oom = false;
        return FD_SVC_EAUDIT; /* no record, no decision */
    }
    uint64_t us = (uv_hrtime() - rq->t0) / 1000;
    fd_svc_rec r = {
        .op = "check",
        .api = owner->api,
        .id_json = rq->id_json,
        .id_len = rq->id_json ? rq->id_len : 0,
        .decision = d,
        .matches = (const fd_match *)mb->data,
        .nmatches = res->n,
        .dropped = res->dropped,
        .text = piece,
        .len = len,
        .excerpts = xb->data ? xb->data : "",
        .exoff = (const uint32_t *)ob->data,
        .bytes = len,
        .rs = t->rs,
        .meta = meta,
        .peer = &owner->peer,
        .addr = owner->addr[0] ? owner->addr : NULL,
        .us = us,
    };
    rc = fd_svc_audit_record(t, &r, rq->done, rq->arg);
    if (rc < 0)
        return FD_SVC_EAUDIT;
    fd_stat_add(&t->stats.decisions[d], 1);
    fd_stat_add(&t->stats.bytes, len);
    return rc;
}
