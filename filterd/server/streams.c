/*
 * streams.c — see streams.h.
 */
#include "streams.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "fd_error.h"
#include "log.h"
#include "stream_audit.h"

/* FNV-1a: ids are short and chosen by one client, whose own streams are
 * all a collision could slow down. */
static uint32_t id_hash(const char *id, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 16777619u;
    }
    return h;
}

/* Double the buckets (at least 8) and rehash. 0 or FD_ENOMEM. */
static int grow(fd_streams *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 8;
    fd_cstream **b = calloc(nb, sizeof(*b));
    if (!b)
        return FD_ENOMEM;
    for (size_t i = 0; i < t->nbuckets; i++) {
        fd_cstream *cs = t->buckets[i], *next;
        for (; cs; cs = next) {
            next = cs->hnext;
            cs->hnext = b[cs->hash & (nb - 1)];
            b[cs->hash & (nb - 1)] = cs;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

static void lru_unlink(fd_streams *t, fd_cstream *cs)
{
    if (cs->lru_prev)
        cs->lru_prev->lru_next = cs->lru_next;
    else
        t->lru_head = cs->lru_next;
    if (cs->lru_next)
        cs->lru_next->lru_prev = cs->lru_prev;
    else
        t->lru_tail = cs->lru_prev;
    cs->lru_prev = cs->lru_next = NULL;
}

static void lru_append(fd_streams *t, fd_cstream *cs)
{
    cs->lru_prev = t->lru_tail;
    cs->lru_next = NULL;
    if (t->lru_tail)
        t->lru_tail->lru_next = cs;
    else
        t->lru_head = cs;
    t->lru_tail = cs;
}

fd_cstream *fd_streams_find(fd_conn *c, const char *id, size_t idlen)
{
    fd_streams *t = &c->streams;
    if (!t->n)
        return NULL;
    uint32_t h = id_hash(id, idlen);
    for (fd_cstream *cs = t->buckets[h & (t->nbuckets - 1)]; cs; cs = cs->hnext)
        if (cs->hash == h && cs->idlen == idlen && memcmp(cs->id, id, idlen) == 0)
            return cs;
    return NULL;
}

/* Keep the open streams' memory in the stats current. */
static void account_mem(fd_worker *w, fd_cstream *cs)
{
    size_t now = cs->st ? fd_stream_bytes(cs->st) : 0;
    if (now > cs->mem)
        fd_stat_add(&w->stats.streams_mem, now - cs->mem);
    else if (now < cs->mem)
        fd_stat_sub(&w->stats.streams_mem, cs->mem - now);
    cs->mem = now;
}

/* Free CS and everything it owns (not linked anywhere any more). */
static void cstream_free(fd_cstream *cs)
{
    if (cs->sha.evp) {
        char hex[65];
        fd_sha256_final(&cs->sha, hex); /* releases the context */
    }
    fd_stream_free(cs->st);
    free(cs->meta);
    free(cs->matches);
    free(cs->exoff);
    fd_buf_free(&cs->excerpts);
    free(cs->tail);
    free(cs);
}

int fd_cstream_open(fd_conn *c, const char *id, size_t idlen, const char *meta, fd_cstream **out)
{
    fd_worker *w = c->w;
    fd_streams *t = &c->streams;
    *out = NULL;
    if (t->n >= t->nbuckets && grow(t) != 0) /* load factor <= 1 */
        return FD_ENOMEM;
    fd_cstream *cs = calloc(1, sizeof(*cs) + idlen + 1);
    if (!cs)
        return FD_ENOMEM;
    memcpy(cs->id, id, idlen);
    cs->idlen = idlen;
    cs->hash = id_hash(id, idlen);
    /* Excerpts only matter when an audit log will print them. */
    const fd_config *cfg = w->srv->cfg;
    bool want_text = cfg->audit_path && cfg->audit_text != FD_AUDIT_TEXT_NONE;
    int rc = FD_ENOMEM;
    if (meta && !(cs->meta = strdup(meta)))
        goto fail;
    if (want_text && !(cs->tail = malloc(FD_CSTREAM_TAIL)))
        goto fail;
    if (fd_sha256_init(&cs->sha) != 0)
        goto fail;
    rc = fd_stream_open(w->rs, w->scratch, 0, &cs->st);
    if (rc != 0)
        goto fail;

    size_t b = cs->hash & (t->nbuckets - 1);
    cs->hnext = t->buckets[b];
    t->buckets[b] = cs;
    t->n++;
    cs->last_active = uv_now(&w->loop);
    lru_append(t, cs);
    fd_stat_add(&w->stats.streams_current, 1);
    fd_stat_add(&w->stats.streams_total, 1);
    account_mem(w, cs);
    *out = cs;
    return 0;
fail:
    cstream_free(cs);
    return rc;
}

/*
 * Copy the bytes [start, end) of the stream into the excerpt store, from
 * the current chunk (CHUNK, starting at stream offset CSTART) or the tail
 * before it. Too long, no longer at hand or over the per-stream budget:
 * an empty excerpt (the audit record still has the span and the rule).
 */
static void keep_excerpt(fd_cstream *cs, uint64_t start, uint64_t end, const char *chunk,
                         size_t clen, uint64_t cstart)
{
    uint64_t tstart = cstart - cs->ntail;
    if (end - start <= FD_CSTREAM_EXCERPT_MAX && start >= tstart && end <= cstart + clen &&
        cs->excerpts.len + (end - start) <= FD_CSTREAM_EXCERPTS_MAX) {
        for (uint64_t x = start; x < end; x++)
            fd_buf_putc(&cs->excerpts, x >= cstart ? chunk[x - cstart] : cs->tail[x - tstart]);
        if (cs->excerpts.oom) { /* keep the offsets consistent */
            cs->excerpts.oom = false;
            cs->excerpts.len = cs->exoff[cs->nmatches];
        }
    }
    cs->exoff[cs->nmatches + 1] = (uint32_t)cs->excerpts.len;
}

/*
 * Keep the counted matches of RES for the audit record (CHUNK: the text
 * just fed, starting at stream offset CSTART, for excerpts; NULL at close).
 */
static void keep_matches(fd_cstream *cs, const fd_result *res, const char *chunk, size_t clen,
                         uint64_t cstart)
{
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (m->action == FD_ALLOW || m->suppressed)
            continue;
        if (cs->nmatches == FD_CSTREAM_MAX_MATCHES) {
            cs->dropped++;
            continue;
        }
        if (cs->nmatches == cs->capmatches) {
            size_t cap = cs->capmatches ? cs->capmatches * 2 : 4;
            if (cap > FD_CSTREAM_MAX_MATCHES)
                cap = FD_CSTREAM_MAX_MATCHES;
            fd_match *p = realloc(cs->matches, cap * sizeof(*p));
            if (!p) {
                cs->dropped++;
                continue;
            }
            cs->matches = p;
            uint32_t *o = realloc(cs->exoff, (cap + 1) * sizeof(*o));
            if (!o) {
                cs->dropped++;
                continue;
            }
            if (!cs->exoff)
                o[0] = 0;
            cs->exoff = o;
            cs->capmatches = cap;
        }
        if (cs->tail)
            keep_excerpt(cs, m->start, m->end, chunk, chunk ? clen : 0, cstart);
        else
            cs->exoff[cs->nmatches + 1] = cs->exoff[cs->nmatches];
        cs->matches[cs->nmatches++] = *m;
    }
}

/* Remember the last FD_CSTREAM_TAIL bytes taken, for later excerpts. */
static void push_tail(fd_cstream *cs, const char *text, size_t len)
{
    if (len >= FD_CSTREAM_TAIL) {
        memcpy(cs->tail, text + len - FD_CSTREAM_TAIL, FD_CSTREAM_TAIL);
        cs->ntail = FD_CSTREAM_TAIL;
        return;
    }
    size_t keep = cs->ntail + len > FD_CSTREAM_TAIL ? FD_CSTREAM_TAIL - len : cs->ntail;
    memmove(cs->tail, cs->tail + cs->ntail - keep, keep);
    memcpy(cs->tail + keep, text, len);
    cs->ntail = keep + len;
}

int fd_cstream_feed(fd_conn *c, fd_cstream *cs, const char *text, size_t len, fd_result *res,
                    uint64_t *release)
{
    fd_worker *w = c->w;
    int rc = fd_stream_feed(cs->st, w->scratch, text, len, res, release);
    /* Only a chunk the engine took counts (a bad_utf8 one changed nothing
     * and the client may go on). */
    if (rc == 0) {
        uint64_t cstart = cs->bytes;
        fd_sha256_update(&cs->sha, text, len);
        cs->bytes += len;
        fd_stat_add(&w->stats.streams_bytes, len);
        keep_matches(cs, res, text, len, cstart);
        if (cs->tail)
            push_tail(cs, text, len);
        if (res->decision == FD_BLOCK)
            fd_stat_add(&w->stats.streams_blocked, 1);
    }
    cs->last_active = uv_now(&w->loop);
    lru_unlink(&c->streams, cs);
    lru_append(&c->streams, cs);
    account_mem(w, cs);
    return rc;
}

int fd_cstream_close(fd_conn *c, fd_cstream *cs, fd_result *res, uint64_t *release)
{
    bool was_blocked = fd_stream_blocked(cs->st);
    int rc = fd_stream_close(cs->st, c->w->scratch, res, release);
    if (rc == 0 || rc == FD_EUTF8)
        keep_matches(cs, res, NULL, 0, cs->bytes);
    if (rc == 0 && !was_blocked && res->decision == FD_BLOCK)
        fd_stat_add(&c->w->stats.streams_blocked, 1);
    account_mem(c->w, cs);
    return rc;
}

int fd_cstream_audit(fd_conn *c, fd_cstream *cs, const char *end, const char *id_json,
                     size_t id_len, uint64_t us, size_t resp_off)
{
    if (cs->audited)
        return 0;
    cs->audited = true;
    if (fd_sha256_final(&cs->sha, cs->sha256) != 0) {
        memset(cs->sha256, '0', 64); /* out of memory in libcrypto: no digest */
        cs->sha256[64] = '\0';
    }
    uint32_t zero = 0;
    fd_stream_audit_input in = {
        .end = end,
        .stream = cs->id,
        .stream_len = cs->idlen,
        .id_json = id_json,
        .id_len = id_json ? id_len : 0,
        .meta = cs->meta,
        .peer = &c->peer,
        .decision = fd_stream_decision(cs->st),
        .matches = cs->matches,
        .nmatches = cs->nmatches,
        .dropped = cs->dropped,
        .excerpts = cs->excerpts.data ? cs->excerpts.data : "",
        .exoff = cs->exoff ? cs->exoff : &zero,
        .rs = fd_stream_ruleset(cs->st),
        .sha256 = cs->sha256,
        .bytes = cs->bytes,
        .us = us,
        .conn = resp_off == SIZE_MAX ? NULL : c,
        .resp_off = resp_off == SIZE_MAX ? 0 : resp_off,
    };
    return fd_stream_audit(c->w, &in);
}

/* Unlink CS from C's table. */
static void unlink_stream(fd_conn *c, fd_cstream *cs)
{
    fd_streams *t = &c->streams;
    for (fd_cstream **p = &t->buckets[cs->hash & (t->nbuckets - 1)]; *p; p = &(*p)->hnext) {
        if (*p == cs) {
            *p = cs->hnext;
            break;
        }
    }
    lru_unlink(t, cs);
    t->n--;
}

void fd_cstream_end(fd_conn *c, fd_cstream *cs, const char *end)
{
    fd_worker *w = c->w;
    /* AUDIT HOOK (disconnect, timeout, error; a no-op after block/close,
     * which proto.c audited already) */
    int rc = fd_cstream_audit(c, cs, end, NULL, 0, 0, SIZE_MAX);
    if (rc != 0)
        fd_error("conn %llu: stream audit record (%s) could not be queued: %s",
                 (unsigned long long)c->serial, end, fd_strerror(rc));
    unlink_stream(c, cs);
    fd_stat_sub(&w->stats.streams_current, 1);
    fd_stat_sub(&w->stats.streams_mem, cs->mem);
    cstream_free(cs);
}

void fd_streams_sweep(fd_conn *c, uint64_t now, uint64_t timeout_ms)
{
    fd_cstream *cs;
    while ((cs = c->streams.lru_head) && now - cs->last_active >= timeout_ms) {
        fd_debug("conn %llu: stream idle for %llu ms, ending it", (unsigned long long)c->serial,
                 (unsigned long long)(now - cs->last_active));
        fd_stat_add(&c->w->stats.streams_expired, 1);
        fd_cstream_end(c, cs, "timeout");
    }
}

void fd_streams_end_all(fd_conn *c, const char *end)
{
    fd_cstream *cs;
    while ((cs = c->streams.lru_head))
        fd_cstream_end(c, cs, end);
    free(c->streams.buckets);
    memset(&c->streams, 0, sizeof(c->streams));
}
